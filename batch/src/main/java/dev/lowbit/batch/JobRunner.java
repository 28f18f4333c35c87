package dev.lowbit.batch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.pipeline.output.Manifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Runs one job in {@code DIR/jobs/<id>/}: {@code lowbit quantize MODEL -o model --recipe recipe.json}, then
 * {@code lowbit evaluate model --baseline MODEL}, each in a child JVM (see {@link BatchCommand} for why), and returns
 * the job's row of the results table as JSON. Never throws for a job's own failure: the row says {@code failed} with
 * the step's one-line error, and the other jobs go on.
 *
 * <p>Resuming: {@code quantized.json} is written only after the artifact is in place, with the recipe hash; a job
 * whose artifact, manifest and {@code quantized.json} with the same hash are there is not quantized again, and one
 * whose {@code evaluated.json} matches the recipe hash and the evaluation settings is not evaluated again.
 */
final class JobRunner {
    private static final ObjectMapper JSON = new ObjectMapper();

    private JobRunner() {}

    static String run(JobSpec job, Evaluation eval, RunConfig config) {
        ObjectNode row = JSON.createObjectNode();
        row.put("id", job.id());
        row.put("model", job.model());
        row.put("method", job.method());
        row.put("format", job.format());
        row.put("scheme", job.scheme());
        if (job.bits() > 0) row.put("bits", job.bits());
        else row.putNull("bits");
        if (job.bits() > 0) row.put("group_size", job.groupSize());
        else row.putNull("group_size");
        row.put("recipe_hash", job.recipeHash());
        Path dir = Path.of(config.outDir(), "jobs", job.id());
        Path artifact = dir.resolve(job.artifactName());
        row.put("artifact", "jobs/" + job.id() + "/" + job.artifactName());
        try {
            Files.createDirectories(dir);
            Path recipe = dir.resolve("recipe.json");
            writeIfChanged(recipe, job.recipeJson());
            JsonNode quantized = reuse(dir.resolve("quantized.json"), job.recipeHash(), null);
            boolean resumedQuantize = quantized != null && Files.exists(artifact) && Files.isRegularFile(manifestOf(job, artifact));
            if (!resumedQuantize) {
                Files.deleteIfExists(dir.resolve("quantized.json"));
                Files.deleteIfExists(dir.resolve("evaluated.json"));
                List<String> args = new ArrayList<>(List.of("quantize", job.modelPath(), "-o", artifact.toString(),
                        "--recipe", recipe.toString(), "--json", "--quiet", "--threads", Integer.toString(config.threads())));
                if (Files.exists(artifact)) args.add("--force"); // lowbit's own earlier artifact of another recipe
                Step s = step(config, args, dir, "quantize");
                if (s.exit != 0) return failed(row, "quantize", s);
                ObjectNode q = JSON.createObjectNode();
                q.put("recipe_hash", job.recipeHash());
                q.set("report", JSON.readTree(s.stdout));
                q.put("seconds", s.seconds);
                writeAtomically(dir.resolve("quantized.json"), q.toString());
                quantized = q;
            }
            JsonNode evaluated = reuse(dir.resolve("evaluated.json"), job.recipeHash(), eval.key());
            boolean resumedEvaluate = evaluated != null;
            if (!resumedEvaluate) {
                List<String> args = new ArrayList<>(List.of("evaluate", artifact.toString(), "--data", eval.data(),
                        "--baseline", job.modelPath(), "--ctx", Integer.toString(eval.ctx()),
                        "--max-windows", Integer.toString(eval.maxWindows()), "--protocol", eval.protocol(), "--json",
                        "--threads", Integer.toString(config.threads())));
                Step s = step(config, args, dir, "evaluate");
                if (s.exit != 0) return failed(row, "evaluate", s);
                ObjectNode e = JSON.createObjectNode();
                e.put("recipe_hash", job.recipeHash());
                e.put("evaluation", eval.key());
                e.set("result", JSON.readTree(s.stdout));
                e.put("seconds", s.seconds);
                writeAtomically(dir.resolve("evaluated.json"), e.toString());
                evaluated = e;
            }
            long size = weightBytes(artifact);
            row.put("size_bytes", size);
            row.put("parameters", job.parameters());
            row.put("bits_per_weight", round(8.0 * size / job.parameters(), 4));
            JsonNode report = quantized.path("report");
            JsonNode lbpw = report.has("linear_bits_per_weight") ? report.get("linear_bits_per_weight") : report.get("bits_per_weight");
            if (lbpw != null && lbpw.isNumber()) row.put("quantized_bits_per_weight", round(lbpw.doubleValue(), 4));
            JsonNode r = evaluated.path("result");
            row.put("perplexity", r.path("perplexity").doubleValue());
            row.put("baseline_perplexity", r.path("baseline_perplexity").doubleValue());
            row.put("ppl_ratio", r.path("perplexity_ratio").doubleValue());
            row.put("kl", r.path("kl").doubleValue());
            row.put("top1", r.path("top1_agreement").doubleValue());
            row.put("max_abs_delta_logit", r.path("max_abs_delta_logit").doubleValue());
            row.put("eval_windows", r.path("windows").intValue());
            row.put("quantize_seconds", round(quantized.path("seconds").doubleValue(), 1));
            row.put("evaluate_seconds", round(evaluated.path("seconds").doubleValue(), 1));
            row.put("resumed", resumedQuantize && resumedEvaluate ? "all" : resumedQuantize ? "quantize" : "no");
            row.put("status", "ok");
            row.putNull("error");
            return row.toString();
        } catch (IOException | RuntimeException e) {
            row.put("status", "failed");
            row.put("error", "batch: " + e.getClass().getSimpleName() + ": " + e.getMessage());
            return row.toString();
        }
    }

    private record Step(int exit, String stdout, String error, double seconds) {}

    /** Runs one step in a child JVM; stdout (the --json report) and stderr go to files in the job's directory. */
    private static Step step(RunConfig config, List<String> args, Path dir, String name) throws IOException {
        Path out = dir.resolve(name + ".out");
        Path log = dir.resolve(name + ".log");
        ProcessBuilder pb = new ProcessBuilder(config.command(args)).redirectOutput(out.toFile()).redirectError(log.toFile());
        long t0 = System.nanoTime();
        Process p = pb.start();
        int exit;
        try {
            exit = p.waitFor();
        } catch (InterruptedException e) {
            p.destroy(); // SIGTERM: the child's shutdown hooks remove its temp data
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        String stdout = Files.readString(out, StandardCharsets.UTF_8);
        String error = null;
        if (exit != 0) {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            for (String l : lines) {
                if (l.startsWith("lowbit: ") && !l.contains("run again with --verbose")) error = l.substring("lowbit: ".length());
            }
            if (error == null) {
                // no line of ours: the JVM died (128 + signal; SIGKILL is what the kernel's OOM killer sends)
                String how = exit == 137 ? "killed by SIGKILL (the system's out-of-memory killer, or kill -9)"
                        : exit > 128 ? "killed by signal " + (exit - 128) : "exit code " + exit;
                error = how + "; see " + log;
            }
        }
        return new Step(exit, stdout, error, seconds);
    }

    private static String failed(ObjectNode row, String step, Step s) {
        row.put("status", "failed");
        row.put("error", step + " (exit " + s.exit + "): " + s.error);
        return row.toString();
    }

    /** The earlier result file when it matches this recipe (and evaluation), else null. */
    private static JsonNode reuse(Path file, String recipeHash, String evalKey) {
        if (!Files.isRegularFile(file)) return null;
        try {
            JsonNode n = JSON.readTree(Files.readString(file));
            if (!recipeHash.equals(n.path("recipe_hash").asText())) return null;
            if (evalKey != null && !evalKey.equals(n.path("evaluation").asText())) return null;
            return n;
        } catch (IOException e) {
            return null; // unreadable: do the step again
        }
    }

    private static Path manifestOf(JobSpec job, Path artifact) {
        return job.gguf() ? Manifest.sidecarOf(artifact) : artifact.resolve(Manifest.FILE_NAME);
    }

    /** Bytes of the weight files a runtime loads: the .gguf, or the .safetensors files of the directory. */
    static long weightBytes(Path artifact) throws IOException {
        if (Files.isRegularFile(artifact)) return Files.size(artifact);
        long n = 0;
        try (Stream<Path> s = Files.list(artifact)) {
            for (Path f : (Iterable<Path>) s::iterator) {
                if (f.getFileName().toString().endsWith(".safetensors")) n += Files.size(f);
            }
        }
        return n;
    }

    private static void writeIfChanged(Path file, String content) throws IOException {
        if (Files.isRegularFile(file) && Files.readString(file).equals(content)) return;
        writeAtomically(file, content);
    }

    private static void writeAtomically(Path file, String content) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + Thread.currentThread().threadId());
        Files.writeString(tmp, content);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    static double round(double v, int digits) {
        double s = Math.pow(10, digits);
        return Math.round(v * s) / s;
    }
}
