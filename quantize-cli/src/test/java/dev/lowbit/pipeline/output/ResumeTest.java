package dev.lowbit.pipeline.output;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code quantize --resume} on real processes: a GPTQ run of tiny-llama-code killed with {@code kill -9} after its
 * 2nd layer, resumed and killed again after its 5th, then resumed to the end, gives byte for byte the files of an
 * uninterrupted run; between the kills no output exists (only the temp directory with its journal). The last resume
 * runs with every activation spilled ({@code -Dlowbit.capture.resident-bytes=0}, the staged state parked with
 * {@code kept-bytes=1}): the journal's boundary is read into spill files and each layer's outputs are journaled from
 * them, and the bytes are still those of the uninterrupted run kept in memory.
 */
class ResumeTest {
    @TempDir
    Path tmp;

    @Test
    void killedTwiceThenResumedEqualsAnUninterruptedRun() throws Exception {
        Path calib = tmp.resolve("calib.txt");
        Files.writeString(calib, Files.readString(CliRun.SHARED.resolve("data/calib_code.txt")).substring(0, 20_000));
        List<String> args = List.of("quantize", CliRun.TINY.toString(), "--method", "gptq", "--bits", "4", "--group-size", "128",
                "--calib", calib.toString(), "--calib-samples", "2", "--calib-seqlen", "64");
        Path ref = tmp.resolve("ref"), out = tmp.resolve("out");
        CliRun r = CliRun.run(with(args, "-o", ref.toString(), "-q").toArray(String[]::new));
        assertEquals(0, r.code(), r.err());

        String first = killAfter(with(args, "-o", out.toString(), "--resume"), "layer 2/6");
        assertFalse(Files.exists(out), "no output after kill -9");
        assertEquals(1, journals(), "the interrupted run's temp directory and journal stay for --resume");
        String second = killAfter(with(args, "-o", out.toString(), "--resume"), "layer 5/6");
        assertTrue(second.contains("resuming: layers 1-2 of 6"), second);
        assertFalse(Files.exists(out));

        Path spill = tmp.resolve("spill");
        CliRun done = SpillTest.withProperties(java.util.Map.of("lowbit.capture.resident-bytes", "0", "lowbit.capture.kept-bytes", "1",
                "lowbit.capture.spill-dir", spill.toString()), () -> CliRun.run(with(args, "-o", out.toString(), "--resume").toArray(String[]::new)));
        assertEquals(0, done.code(), done.err());
        assertTrue(done.err().contains("resuming: layers 1-"), done.err());
        assertTrue(done.err().contains("spilling layer activations to " + spill), done.err());
        try (Stream<Path> s = Files.list(spill)) {
            assertEquals(0, s.count(), "no spill file left behind");
        }
        List<Path> files = files(ref);
        assertEquals(files.stream().map(Path::getFileName).toList(), files(out).stream().map(Path::getFileName).toList());
        for (Path f : files) assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(out.resolve(f.getFileName())), f.getFileName().toString());
        assertEquals(0, journals(), "no temp directory left");
        System.out.println("resume: first run stopped at\n" + first.strip() + "\nsecond:\n" + second.strip());
    }

    private static List<String> with(List<String> a, String... more) {
        List<String> l = new ArrayList<>(a);
        l.addAll(List.of(more));
        return l;
    }

    /** Runs lowbit in its own JVM, kill -9 as soon as stderr shows {@code line}; returns its stderr. */
    private String killAfter(List<String> args, String line) throws Exception {
        Path err = Files.createTempFile(tmp, "err", ".txt");
        Process p = new ProcessBuilder(LowbitProcess.command(args.toArray(String[]::new)))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err.toFile()).start();
        // generous: on a 2-core machine shared with measurement jobs a tiny-llama-code GPTQ layer took > 30 s, and the
        // run killed at its deadline instead of at the line would fail the test for the wrong reason
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(600);
        while (p.isAlive() && !Files.readString(err, StandardCharsets.UTF_8).contains(line) && System.nanoTime() < deadline) Thread.sleep(5);
        assertTrue(p.isAlive(), "the run ended before '" + line + "': " + Files.readString(err));
        p.destroyForcibly();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return Files.readString(err, StandardCharsets.UTF_8);
    }

    private long journals() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.filter(p -> p.getFileName().toString().startsWith(".out.lowbit-tmp-")
                    && Files.isDirectory(p.resolve(SafeOutput.RESUME_DIR))).count();
        }
    }

    private static List<Path> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }
}
