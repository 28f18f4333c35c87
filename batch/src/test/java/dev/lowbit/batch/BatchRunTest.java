package dev.lowbit.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.pipeline.output.Manifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real sweep (tiny-llama-code; RTN into a GPTQ checkpoint and into GGUF Q4_K_M; short evaluation) end to end:
 * run locally in its own process and {@code kill -9}ed after the first job, resumed, run again under real Spark
 * {@code local[2]}, and gated. The full acceptance sweep (GPTQ too, full calibration) is
 * {@code scripts/batch-acceptance.sh}; this one is sized for CI.
 */
class BatchRunTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> METRICS = List.of("id", "status", "recipe_hash", "size_bytes", "bits_per_weight",
            "quantized_bits_per_weight", "perplexity", "baseline_perplexity", "ppl_ratio", "kl", "top1", "max_abs_delta_logit");

    @TempDir
    Path dir;

    private String sweep(String gates) {
        return """
                version: 1
                models: [%s]
                evaluation: {data: %s, ctx: 64, max_windows: 2}
                grid:
                  methods: [rtn]
                  bits: [4]
                  formats: [gptq, gguf]
                  types: [Q4_K_M]
                gates:
                %s""".formatted(SweepTest.MODEL, SweepTest.EVAL, gates);
    }

    @Test
    void killedRunResumesAndSparkLocalGivesTheSameBytesAndTable() throws Exception {
        Path sweep = Files.writeString(dir.resolve("sweep.yaml"), sweep("  - {metric: ppl_ratio, max: 1.5}\n"));
        Path local = dir.resolve("local"), spark = dir.resolve("spark");
        String first = "tiny-llama-code.rtn.w4g128.gptq";

        // 1. local run in its own JVM, kill -9 as soon as the first job is evaluated
        RunConfig cfg = RunConfig.current(local.toString(), "2g", 1);
        Process p = new ProcessBuilder(cfg.command(List.of("batch", sweep.toString(), "-o", local.toString())))
                .redirectErrorStream(true).redirectOutput(dir.resolve("killed.log").toFile()).start();
        Path firstDone = local.resolve("jobs").resolve(first).resolve("evaluated.json");
        long deadline = System.nanoTime() + 600_000_000_000L;
        while (!Files.exists(firstDone)) {
            if (!p.isAlive()) fail("the run ended before it was killed: " + Files.readString(dir.resolve("killed.log")));
            if (System.nanoTime() > deadline) fail("first job not done in 10 minutes");
            Thread.sleep(200);
        }
        p.destroyForcibly(); // SIGKILL: no shutdown hook runs in the runner
        p.waitFor();
        // its job processes notice the runner is gone and stop within a second or two (their SafeOutput hooks
        // remove their temp data); one may have been starting at the kill, so look them up by command line
        long until = System.nanoTime() + 120_000_000_000L;
        while (!jobProcesses(local).isEmpty()) {
            if (System.nanoTime() > until) fail("job processes " + jobProcesses(local) + " still run 2 minutes after their runner was killed");
            Thread.sleep(200);
        }

        // 2. the second run skips the finished job and does the other
        Cli resumed = Cli.run("batch", sweep.toString(), "-o", local.toString());
        assertEquals(0, resumed.code(), resumed.err());
        List<JsonNode> a = rows(local);
        assertEquals(List.of(first, "tiny-llama-code.rtn.Q4_K_M.gguf"), a.stream().map(r -> r.path("id").asText()).toList());
        assertEquals("all", a.get(0).path("resumed").asText(), "the first job was finished before the kill");
        assertNotEquals("all", a.get(1).path("resumed").asText());
        assertNoDebris(local);

        // 3. the same sweep as Spark tasks (real Spark, local[2]): the same artifacts, byte for byte, and the same table
        Cli s = Cli.run("batch", sweep.toString(), "-o", spark.toString(), "--spark", "local[2]");
        assertEquals(0, s.code(), s.err());
        List<JsonNode> b = rows(spark);
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals("no", b.get(i).path("resumed").asText());
            for (String k : METRICS) assertEquals(a.get(i).get(k), b.get(i).get(k), k + " of " + a.get(i).path("id"));
            String artifact = a.get(i).path("artifact").asText();
            assertEquals(hashes(local.resolve(artifact)), hashes(spark.resolve(artifact)), artifact);
        }
        // figures that make sense: 4-bit is smaller than the f32 source, and close to it in perplexity
        for (JsonNode r : b) {
            assertTrue(r.path("bits_per_weight").doubleValue() < 16 && r.path("ppl_ratio").doubleValue() < 1.5, r.toString());
            assertTrue(r.path("top1").doubleValue() > 0.5 && r.path("top1").doubleValue() <= 1, r.toString());
        }
        String csv = Files.readString(spark.resolve("results.csv"));
        assertEquals(3, csv.split("\r\n").length, csv);
        assertTrue(Files.readString(spark.resolve("report.html")).contains("class=\"point"), "the report plots the points");

        // 4. a gate that fails: exit 3, each failure named with its job and gate (the jobs are not run again)
        Path strict = Files.writeString(dir.resolve("strict.yaml"), sweep("  - {metric: ppl_ratio, max: 1.5}\n  - {metric: top1, min: 1.0}\n"));
        Cli gated = Cli.run("batch", strict.toString(), "-o", local.toString());
        assertEquals(3, gated.code(), gated.err());
        assertTrue(gated.err().contains("lowbit: job " + first + " fails gate top1 >= 1 (" + strict + ":11): top1 = "), gated.err());
        assertTrue(gated.err().contains("lowbit: job tiny-llama-code.rtn.Q4_K_M.gguf fails gate top1 >= 1"), gated.err());
        assertFalse(gated.err().contains("fails gate ppl_ratio"), gated.err());
        for (JsonNode r : rows(local)) assertEquals("all", r.path("resumed").asText());
    }

    /** Live {@link JobMain} processes working under {@code out} (read from /proc: Linux, like the rest of lowbit's output layer). */
    private static List<Long> jobProcesses(Path out) throws IOException {
        List<Long> pids = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc"))) {
            for (Path d : s.filter(d -> d.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    String cmd = new String(Files.readAllBytes(d.resolve("cmdline")), java.nio.charset.StandardCharsets.UTF_8);
                    if (cmd.contains(JobMain.class.getName()) && cmd.contains(out.toString())) pids.add(Long.parseLong(d.getFileName().toString()));
                } catch (IOException e) {
                    // ended meanwhile
                }
            }
        }
        return pids;
    }

    private static List<JsonNode> rows(Path out) throws IOException {
        List<JsonNode> rows = new ArrayList<>();
        for (String l : Files.readAllLines(out.resolve("results.jsonl"))) rows.add(JSON.readTree(l));
        return rows;
    }

    /** sha256 of the artifact file and its manifest, or of every file of the artifact directory. */
    private static Map<String, String> hashes(Path artifact) throws IOException {
        Map<String, String> out = new TreeMap<>();
        if (Files.isRegularFile(artifact)) {
            out.put(artifact.getFileName().toString(), Manifest.sha256(artifact));
            Path sidecar = Manifest.sidecarOf(artifact);
            out.put(sidecar.getFileName().toString(), Manifest.sha256(sidecar));
        } else {
            try (Stream<Path> s = Files.list(artifact)) {
                for (Path f : s.toList()) out.put(f.getFileName().toString(), Manifest.sha256(f));
            }
        }
        assertTrue(out.size() >= 2, out.toString());
        return out;
    }

    private static void assertNoDebris(Path out) throws IOException {
        try (Stream<Path> s = Files.walk(out)) {
            List<Path> debris = s.filter(f -> f.getFileName().toString().contains("lowbit-tmp")
                    || f.getFileName().toString().contains("lowbit-lock")).toList();
            assertEquals(List.of(), debris);
        }
    }
}
