package dev.lowbit.pipeline.output;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Calibration activations spilled to disk change no output byte. tiny-llama-code never spills with the defaults (its
 * boundary is far under the budget); forced with {@code -Dlowbit.capture.resident-bytes=0} every batch of every layer
 * boundary goes to a file and is read back when it runs, and {@code -Dlowbit.capture.kept-bytes=1} parks GPTQ's staged
 * state in files between the stages. 10 windows of 32 tokens: two batches of different sizes (8 + 2). GPTQ
 * (true-sequential) and AWQ (grid 2, then RTN: its statistics pass's fp outputs become the next layer's inputs, its
 * loss samples windows across both batches) must write the files of the run that kept everything in memory; the run says where it spilled,
 * and leaves no spill file behind. A spill directory that cannot be made is one line, exit 2, nothing written.
 * (A resumed run over a spilled boundary: {@link ResumeTest}.)
 */
class SpillTest {
    @TempDir
    Path tmp;

    @Test
    void spilledRunsWriteTheBytesOfRunsInMemory() throws IOException {
        Path calib = tmp.resolve("calib.txt");
        Files.writeString(calib, Files.readString(CliRun.SHARED.resolve("data/calib_code.txt")).substring(0, 20_000));
        Path spillDir = tmp.resolve("spill");
        // AWQ as [awq grid 2, rtn w4 g128] (3 candidates per mapping instead of 21: the same passes over the boundary)
        Path awq = Files.writeString(tmp.resolve("awq.yaml"), String.join("\n", "version: 2", "steps:", "  - {type: awq, grid: 2}",
                "  - {type: rtn, bits: 4, group_size: 128}", "calibration: {data: '" + calib + "', samples: 10, seqlen: 32}",
                "output: {format: gptq}", ""));
        for (String method : new String[] {"gptq", "awq"}) {
            List<String> args = method.equals("gptq")
                    ? List.of("quantize", CliRun.TINY.toString(), "--method", method, "--bits", "4", "--group-size", "128",
                            "--calib", calib.toString(), "--calib-samples", "10", "--calib-seqlen", "32", "--threads", "2")
                    : List.of("quantize", CliRun.TINY.toString(), "--recipe", awq.toString(), "--threads", "2");
            Path kept = tmp.resolve(method + "-kept"), spilled = tmp.resolve(method + "-spilled");
            CliRun a = CliRun.run(with(args, "-o", kept.toString()));
            a.ok();
            assertFalse(a.err().contains("spilling"), "the defaults never spill tiny-llama-code: " + a.err());
            CliRun b = withProperties(Map.of("lowbit.capture.resident-bytes", "0", "lowbit.capture.kept-bytes", "1",
                    "lowbit.capture.spill-dir", spillDir.toString()), () -> CliRun.run(with(args, "-o", spilled.toString())));
            b.ok();
            assertTrue(b.err().contains("lowbit: spilling layer activations to " + spillDir.resolve("lowbit-spill-")), b.err());
            assertEquals(1, b.err().lines().filter(l -> l.contains("spilling")).count(), "said once: " + b.err());
            List<Path> files = list(kept);
            assertEquals(files.stream().map(Path::getFileName).toList(), list(spilled).stream().map(Path::getFileName).toList());
            for (Path f : files) {
                assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(spilled.resolve(f.getFileName())), method + " " + f.getFileName());
            }
            assertEquals(List.of(), list(spillDir), "no spill file left behind");
        }
    }

    @Test
    void aSpillDirectoryThatCannotBeMadeIsOneLine() throws IOException {
        Path calib = tmp.resolve("calib.txt");
        Files.writeString(calib, Files.readString(CliRun.SHARED.resolve("data/calib_code.txt")).substring(0, 20_000));
        Path blocker = Files.writeString(tmp.resolve("not-a-dir"), "x");
        Path out = tmp.resolve("out");
        withProperties(Map.of("lowbit.capture.resident-bytes", "0", "lowbit.capture.spill-dir", blocker.toString()),
                () -> CliRun.run("quantize", CliRun.TINY.toString(), "-o", out.toString(), "--method", "gptq", "--calib", calib.toString(),
                        "--calib-samples", "2", "--calib-seqlen", "32", "-q"))
                .refused(blocker + ": cannot spill calibration activations (not a directory)");
        assertFalse(Files.exists(out), "nothing written");
        assertEquals(List.of(), CliRun.debris(tmp), "no temp output left");
        assertEquals("x", Files.readString(blocker));
    }

    static <T> T withProperties(Map<String, String> props, java.util.function.Supplier<T> run) {
        props.forEach(System::setProperty);
        try {
            return run.get();
        } finally {
            props.keySet().forEach(System::clearProperty);
        }
    }

    private static String[] with(List<String> a, String... more) {
        List<String> l = new ArrayList<>(a);
        l.addAll(List.of(more));
        return l.toArray(String[]::new);
    }

    private static List<Path> list(Path dir) throws IOException {
        if (!Files.exists(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }
}
