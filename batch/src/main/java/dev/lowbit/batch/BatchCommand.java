package dev.lowbit.batch;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.cli.ExtraCommand;
import dev.lowbit.cli.Main;
import dev.lowbit.io.BadInputException;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code lowbit batch SWEEP -o DIR}: every job of the sweep (quantize + evaluate), locally or as Spark tasks, then
 * {@code results.jsonl}, {@code results.csv} and {@code report.html} in DIR, and an exit code a CI step can gate on.
 *
 * <p>Each step of a job runs as a child JVM ({@code lowbit quantize ...}, {@code lowbit evaluate ...} through
 * {@link JobMain}), not in this JVM: a job that fails — bad input, out of memory, a native crash in libtorch — is one
 * row with its one-line error and cannot take the runner or a Spark executor down; each job has its own heap
 * ({@code --job-memory}), its own PyTorch thread pool and its own process for {@code SafeOutput}'s lock and signal
 * clean-up; and the artifact comes from the very code path a user runs by hand, so local and Spark runs give the same
 * bytes. The cost is a JVM start per step (about a second), small next to a quantize or an evaluation.
 */
@Command(name = "batch", mixinStandardHelpOptions = true, sortOptions = false, parameterListHeading = "%nArguments:%n", optionListHeading = "%nOptions:%n",
        description = {
            "Run a sweep of quantize + evaluate jobs (models x methods x bits x group sizes x formats x types, or "
                    + "whole recipes) locally or on Apache Spark; write DIR/results.jsonl, DIR/results.csv and "
                    + "DIR/report.html (perplexity against bits per weight, Pareto front).",
            "",
            "Resumable: a job whose artifact, manifest and recipe hash are in DIR is not quantized again; a failed "
                    + "job is recorded with its one-line error and the others go on.",
            "",
            "Exit codes: 0 every gate passes, 3 a gate failed (each failure named), 1 a job failed, 2 bad input "
                    + "(the sweep line named, before any job starts).",
            "",
            "Examples:",
            "  lowbit batch sweep.yaml -o out/sweep",
            "  lowbit batch sweep.yaml -o out/s --jobs 2",
            "  lowbit batch sweep.yaml -o /nfs/s --spark local[2]",
            "  lowbit batch s.yaml -o /nfs/s --spark spark://h:7077"
        })
public final class BatchCommand implements Callable<Integer>, ExtraCommand {
    @Parameters(index = "0", paramLabel = "SWEEP", description = "sweep file (YAML or JSON; see README)")
    Path sweepFile;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "where jobs/, results.jsonl, results.csv and report.html go (created; reused to resume)")
    Path out;

    @Option(names = "--spark", paramLabel = "MASTER", description = "run the jobs as Spark tasks: local[N] in this JVM, or a cluster's master URL (lowbit, models, data and DIR on a shared file system)")
    String spark;

    @Option(names = "--jobs", paramLabel = "N", description = "local runner: jobs at once (default: 1; capped by memory: N x --job-memory must fit in available memory; not with --spark)")
    Integer jobs;

    @Option(names = "--job-memory", defaultValue = "4g", paramLabel = "SIZE", description = "heap of each job's JVM, e.g. 4g (default: ${DEFAULT-VALUE})")
    String jobMemory;

    @Option(names = "--threads", paramLabel = "N", description = "compute threads per job (default: cores / jobs at once)")
    Integer threads;

    @Option(names = "--list", description = "print the jobs the sweep expands to, then exit")
    boolean list;

    @Option(names = "--verbose", description = "show stack traces on errors")
    boolean verbose;

    @Override
    public Integer call() throws IOException {
        if (spark != null && jobs != null) throw new Main.UsageException("--jobs applies to the local runner; with --spark, local[N] or the cluster sets how many jobs run at once");
        if (spark != null && !spark.matches("local(\\[(\\d+|\\*)(,\\d+)?])?|(spark|k8s|mesos)://\\S+|yarn")) {
            throw new Main.UsageException("--spark takes a Spark master: local[2], local[*], spark://host:7077, k8s://..., yarn; got '" + spark + "'");
        }
        if (jobs != null && jobs < 1) throw new Main.UsageException("--jobs must be at least 1, got " + jobs);
        if (threads != null && threads < 1) throw new Main.UsageException("--threads must be at least 1, got " + threads);
        long heap = bytes(jobMemory);
        Sweep sweep = Sweep.read(sweepFile);
        if (list) {
            for (JobSpec j : sweep.jobs()) System.out.println(j.id() + "  " + j.source());
            return 0;
        }
        Path dir = out.toAbsolutePath().normalize();
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw new BadInputException(out, "exists and is not a directory");
        claim(dir, out);
        Files.createDirectories(dir.resolve("jobs"));

        int cores = Runtime.getRuntime().availableProcessors();
        int atOnce = spark != null ? sparkSlots(spark, cores) : memoryBound(jobs == null ? 1 : jobs, heap);
        int perJob = threads != null ? threads : Math.max(1, cores / atOnce);
        RunConfig config = RunConfig.current(dir.toString(), jobMemory, perJob);
        String runner = spark != null ? "Spark " + spark : "local, " + atOnce + " at once";
        System.err.printf(Locale.ROOT, "lowbit: %d jobs (%s, %d threads each) -> %s%n", sweep.jobs().size(), runner, perJob, out);
        AtomicInteger finished = new AtomicInteger();
        long t0 = System.nanoTime();
        List<String> rows = spark != null
                ? SparkRunner.run(sweep.jobs(), sweep.evaluation(), config, spark)
                : LocalRunner.run(sweep.jobs(), sweep.evaluation(), config, atOnce,
                        row -> System.err.println("lowbit: [" + finished.incrementAndGet() + "/" + sweep.jobs().size() + "] " + summaryOf(row)));
        double seconds = (System.nanoTime() - t0) / 1e9;

        Results results = new Results(rows, sweep.gates());
        SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("SWEEP", sweepFile);
        String sweepJson = "{\"sweep\":" + sweep.json() + "}";
        write(dir.resolve("results.jsonl"), results.jsonl(), inputs, sweepJson);
        write(dir.resolve("results.csv"), results.csv(), inputs, sweepJson);
        write(dir.resolve("report.html"), Report.html(sweepFile.getFileName().toString(), results), inputs, sweepJson);

        for (ObjectNode r : results.rows) System.out.println(summary(r));
        System.out.printf(Locale.ROOT, "wrote %s/results.jsonl, results.csv, report.html (%d jobs, %.1f s)%n", out, rows.size(), seconds);
        List<ObjectNode> failed = results.failedJobs();
        for (ObjectNode f : failed) System.err.println("lowbit: job " + f.path("id").asText() + " failed: " + f.path("error").asText());
        if (!failed.isEmpty()) return 1;
        List<String> gateFailures = results.gateFailures();
        for (String g : gateFailures) System.err.println("lowbit: " + g);
        return gateFailures.isEmpty() ? 0 : 3;
    }

    /** The file that marks a directory as a {@code lowbit batch} output: only such a directory is reused (resumed). */
    static final String MARKER = "lowbit-batch.json";

    /**
     * Makes {@code dir} this run's output: a new or empty directory gets the {@link #MARKER}; one that has it is
     * resumed; any other existing content is the user's and refused (the batch rewrites and deletes files under
     * jobs/ and rewrites results.*, so it must never do that in a directory it did not create).
     */
    static void claim(Path dir, Path shown) throws IOException {
        Path marker = dir.resolve(MARKER);
        if (Files.isRegularFile(marker)) return;
        if (Files.isDirectory(dir)) {
            try (var entries = Files.list(dir)) {
                if (entries.findAny().isPresent()) {
                    throw new BadInputException(shown, "exists, is not empty and is not a lowbit batch output (no " + MARKER
                            + "): choose a new directory; lowbit batch only reuses its own to resume");
                }
            }
        }
        Files.createDirectories(dir);
        Path tmp = dir.resolve(MARKER + ".tmp");
        Files.writeString(tmp, "{\"lowbit\":\"batch output directory\",\"version\":1}\n", StandardCharsets.UTF_8);
        Files.move(tmp, marker, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static void write(Path file, String content, SafeOutput.Inputs inputs, String sweepJson) {
        try (SafeOutput o = SafeOutput.file(file, true, inputs)) {
            try {
                Files.writeString(o.path(), content, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw o.failure(e);
            }
            o.commit(new Manifest(sweepJson, 0));
        }
    }

    /** Jobs at once for the local runner: what was asked, unless that many heaps do not fit in available memory. */
    private static int memoryBound(int asked, long heap) {
        long available = availableMemory();
        if (available <= 0) return asked;
        // a job's JVM needs its heap plus native memory (libtorch, mapped files): count 1.5x the heap
        int fit = (int) Math.max(1, available / (heap + heap / 2));
        if (fit < asked) {
            System.err.printf(Locale.ROOT, "lowbit: --jobs %d lowered to %d: %.1f GiB available, each job may take %.1f GiB (1.5 x --job-memory)%n",
                    asked, fit, available / (double) (1L << 30), (heap + heap / 2) / (double) (1L << 30));
            return fit;
        }
        return asked;
    }

    private static long availableMemory() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (l.startsWith("MemAvailable:")) return Long.parseLong(l.replaceAll("\\D", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux: trust --jobs
        }
        return -1;
    }

    /** Task slots of a local master ({@code local}, {@code local[N]}, {@code local[*]}); a cluster's jobs get the cores of their worker. */
    static int sparkSlots(String master, int cores) {
        var m = java.util.regex.Pattern.compile("local(?:\\[(\\d+|\\*)(?:,\\d+)?])?").matcher(master);
        if (!m.matches()) return 1;
        if (m.group(1) == null) return 1;
        return m.group(1).equals("*") ? cores : Math.max(1, Integer.parseInt(m.group(1)));
    }

    static long bytes(String size) {
        var m = java.util.regex.Pattern.compile("(\\d{1,6})([kKmMgGtT])").matcher(size);
        if (!m.matches()) throw new Main.UsageException("--job-memory must be a size like 4g or 512m, got '" + size + "'");
        int shift = switch (Character.toLowerCase(m.group(2).charAt(0))) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            default -> 40;
        };
        return Long.parseLong(m.group(1)) << shift;
    }

    static String summaryOf(String rowJson) {
        try {
            return summary((ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper().readTree(rowJson));
        } catch (IOException e) {
            return rowJson;
        }
    }

    static String summary(ObjectNode r) {
        if (!"ok".equals(r.path("status").asText())) return r.path("id").asText() + ": failed: " + r.path("error").asText();
        return String.format(Locale.ROOT, "%s: %.3f bits/weight, perplexity %.4f (x%.4f), KL %.5f, top-1 %.4f, %,d bytes%s",
                r.path("id").asText(), r.path("bits_per_weight").doubleValue(), r.path("perplexity").doubleValue(),
                r.path("ppl_ratio").doubleValue(), r.path("kl").doubleValue(), r.path("top1").doubleValue(),
                r.path("size_bytes").longValue(), "no".equals(r.path("resumed").asText()) ? "" : " (resumed: " + r.path("resumed").asText() + ")");
    }
}
