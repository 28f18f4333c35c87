package dev.lowbit.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A job that fails is a row with its one-line error; the other jobs go on; the run exits 1. */
class FailedJobTest {
    @TempDir
    Path dir;

    @Test
    void aFailedJobIsRecordedAndDoesNotStopTheOthers() throws Exception {
        Path sweep = Files.writeString(dir.resolve("sweep.yaml"), """
                version: 1
                models: [%s]
                evaluation: {data: %s, ctx: 64, max_windows: 1}
                grid:
                  methods: [rtn]
                  formats: [gguf]
                  types: [Q8_0, Q4_0]
                """.formatted(SweepTest.MODEL, SweepTest.EVAL));
        Path out = dir.resolve("out");
        // a batch output (an earlier run's marker) in which the user put a file where the first job's artifact goes:
        // lowbit never replaces what it did not write, and that job's failure does not stop the other
        Path inTheWay = out.resolve("jobs/tiny-llama-code.rtn.Q8_0.gguf/model.gguf");
        Files.createDirectories(inTheWay.getParent());
        Files.writeString(out.resolve(BatchCommand.MARKER), "{\"lowbit\":\"batch output directory\",\"version\":1}\n");
        Files.writeString(inTheWay, "the user's own file\n");

        Cli r = Cli.run("batch", sweep.toString(), "-o", out.toString());
        assertEquals(1, r.code(), r.err());
        List<String> failures = r.err().lines().filter(l -> l.startsWith("lowbit: job ")).toList();
        assertEquals(1, failures.size(), r.err());
        assertTrue(failures.getFirst().startsWith("lowbit: job tiny-llama-code.rtn.Q8_0.gguf failed: quantize (exit 2): " + inTheWay),
                failures.getFirst());
        assertEquals("the user's own file\n", Files.readString(inTheWay));

        List<String> lines = Files.readAllLines(out.resolve("results.jsonl"));
        assertEquals(2, lines.size());
        JsonNode failed = new ObjectMapper().readTree(lines.get(0)), ok = new ObjectMapper().readTree(lines.get(1));
        assertEquals("failed", failed.path("status").asText());
        assertTrue(failed.path("error").asText().contains("quantize (exit 2)"), failed.toString());
        assertEquals(false, failed.path("pass").booleanValue());
        assertEquals("ok", ok.path("status").asText(), ok.toString());
        assertTrue(ok.path("perplexity").doubleValue() > 1, ok.toString());
        assertTrue(Files.readString(out.resolve("report.html")).contains("1 job(s) failed"));
    }
}
