package dev.lowbit.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading a sweep: the grid's expansion, and bad input refused with the sweep line named, before any job starts. */
class SweepTest {
    static final String MODEL = SharedData.tinyLlama().toString();
    static final String CALIB = SharedData.data("calib_code.txt").toString();
    static final String EVAL = SharedData.data("eval_code.txt").toString();

    @TempDir
    Path dir;

    /** The acceptance grid: {rtn, gptq} x {w4 g128, w3 g128} x {gptq format, GGUF Q4_K_M}. */
    static String acceptance(String model) {
        return """
                version: 1
                models: [%s]
                calibration: {data: %s, samples: 128, seqlen: 512}
                evaluation: {data: %s, ctx: 512}
                grid:
                  methods: [rtn, gptq]
                  bits: [4, 3]
                  group_sizes: [128]
                  formats: [gptq, gguf]
                  types: [Q4_K_M]
                gates:
                  - {metric: ppl_ratio, max: 1.10}
                  - {metric: top1, min: 0.8}
                """.formatted(model, CALIB, EVAL);
    }

    @Test
    void gridExpandsToOneJobPerCombinationAndGgufTakesItsGridFromTheType() throws IOException {
        Path f = write("sweep.yaml", acceptance(MODEL));
        Sweep s = Sweep.read(f);
        List<String> ids = s.jobs().stream().map(JobSpec::id).toList();
        // a GGUF mix fixes bits and groups, so it is one job per method, not one per bits x group size
        assertEquals(List.of("tiny-llama-code.rtn.w4g128.gptq", "tiny-llama-code.rtn.w3g128.gptq", "tiny-llama-code.rtn.Q4_K_M.gguf",
                "tiny-llama-code.gptq.w4g128.gptq", "tiny-llama-code.gptq.w3g128.gptq", "tiny-llama-code.gptq.Q4_K_M.gguf"), ids);
        // rtn is data-free: no calibration in its recipe; gptq carries the file with its sha256
        JobSpec rtn = s.jobs().getFirst(), gptq = s.jobs().get(3);
        assertFalse(rtn.recipeJson().contains("calibration"), rtn.recipeJson());
        assertTrue(gptq.recipeJson().contains("\"sha256\""), gptq.recipeJson());
        var step = new com.fasterxml.jackson.databind.ObjectMapper().readTree(gptq.recipeJson()).path("steps").get(0);
        assertEquals("gptq", step.path("type").asText());
        assertEquals(4, step.path("bits").intValue());
        assertEquals(128, step.path("group_size").intValue());
        // every recipe hash differs, and the same sweep read twice gives the same hashes (resuming depends on it)
        assertEquals(6, s.jobs().stream().map(JobSpec::recipeHash).distinct().count());
        assertEquals(s.jobs().stream().map(JobSpec::recipeHash).toList(),
                Sweep.read(f).jobs().stream().map(JobSpec::recipeHash).toList());
        assertEquals(2, s.gates().size());
        assertEquals(27_269_632L, rtn.parameters()); // tiny-llama-code: every tensor of model.safetensors
    }

    @Test
    void unknownMethodNamesItsLine() throws IOException {
        refused(acceptance(MODEL).replace("methods: [rtn, gptq]", "methods:\n    - rtn\n    - awqq"), "- awqq", "unknown step 'awqq'");
        refused(acceptance(MODEL).replace("methods: [rtn, gptq]", "methods:\n    - rtn\n    - awq"), "- awq",
                "'awq' is a transform step, not a quantizer");
    }

    @Test
    void unknownTypeNamesItsLine() throws IOException {
        refused(acceptance(MODEL).replace("types: [Q4_K_M]", "types:\n    - Q4_K_M\n    - Q4_K_X"), "- Q4_K_X", "Q4_K_X");
    }

    @Test
    void missingModelNamesItsLine() throws IOException {
        refused(acceptance(dir.resolve("no-such-model").toString()), "models:", "not found");
    }

    @Test
    void gateOnAnUnknownMetricNamesItsLine() throws IOException {
        refused(acceptance(MODEL).replace("{metric: top1, min: 0.8}", "{metric: accuracy, min: 0.8}"), "accuracy", "unknown metric 'accuracy'");
    }

    @Test
    void unknownKeyAndBitsOutOfRangeNameTheirLines() throws IOException {
        refused(acceptance(MODEL).replace("  group_sizes: [128]", "  group_size: [128]"), "group_size:", "unknown key 'group_size'");
        refused(acceptance(MODEL).replace("bits: [4, 3]", "bits: [4, 9]"), "bits:", "bits must be 2..8");
        refused(acceptance(MODEL).replace("  types: [Q4_K_M]\n", "  types: [Q4_K_M]\n  threads: 4\n"), "threads:", "unknown key 'threads'");
    }

    @Test
    void optionsThatDoNotApplyAreRefused() throws IOException {
        Path f = write("sweep.yaml", acceptance(MODEL));
        Path out = dir.resolve("out");
        for (String[] args : List.of(new String[] {"--spark", "local[2]", "--jobs", "2"}, new String[] {"--spark", "nonsense"},
                new String[] {"--job-memory", "lots"}, new String[] {"--jobs", "0"})) {
            List<String> cmd = new java.util.ArrayList<>(List.of("batch", f.toString(), "-o", out.toString()));
            cmd.addAll(List.of(args));
            Cli r = Cli.run(cmd.toArray(String[]::new));
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().startsWith("lowbit: --"), r.err());
            assertFalse(Files.exists(out));
        }
    }

    /**
     * An output directory that holds something and is not a batch output (no lowbit-batch.json) is the user's: exit 2
     * with one line, and not one file in it is touched (the batch would rewrite jobs/ and results.* there).
     */
    @Test
    void aForeignNonEmptyOutputDirectoryIsRefusedUntouched() throws IOException {
        Path f = write("sweep.yaml", acceptance(MODEL));
        Path out = dir.resolve("mine");
        Files.createDirectories(out.resolve("jobs"));
        Path precious = Files.writeString(out.resolve("results.csv"), "the user's own table\n");
        Path job = Files.writeString(out.resolve("jobs").resolve("quantized.json"), "{}");
        Cli r = Cli.run("batch", f.toString(), "-o", out.toString());
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("not a lowbit batch output"), r.err());
        assertEquals("the user's own table\n", Files.readString(precious));
        assertEquals("{}", Files.readString(job));
        try (var entries = Files.list(out)) {
            assertEquals(2, entries.count(), "nothing added");
        }
    }

    /**
     * The command refuses with exit 2 and one line naming {@code sweep.yaml:<line of marker>}, and nothing is
     * written: the output directory is not even created.
     */
    private void refused(String yaml, String marker, String expected) throws IOException {
        Path f = write("sweep.yaml", yaml);
        int line = 1 + yaml.substring(0, yaml.indexOf(marker)).split("\n", -1).length - 1;
        Path out = dir.resolve("out");
        Cli r = Cli.run("batch", f.toString(), "-o", out.toString());
        assertEquals(2, r.code(), r.err());
        List<String> lines = r.err().strip().lines().toList();
        assertEquals(1, lines.size(), r.err());
        assertTrue(lines.getFirst().startsWith("lowbit: " + f + ":" + line + ": "), "line " + line + " expected: " + r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertFalse(Files.exists(out), "nothing may be written before the sweep is known good");
    }

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }
}
