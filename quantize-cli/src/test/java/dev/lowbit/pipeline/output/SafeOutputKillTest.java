package dev.lowbit.pipeline.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real {@code lowbit quantize} processes killed at chosen moments: {@code kill -9} while the temp output is being
 * written, and right when it is about to be swapped in (its manifest has appeared); SIGTERM mid-write; two writers
 * at once. After every kill the output is either absent / the old complete output or the new complete output, read
 * back in full (safetensors index and shards, GGUF tensor table); after the next run no temp or lock file remains.
 */
class SafeOutputKillTest {
    /** tiny-llama-code's Q4_0 GGUF: 13 F32 norms, 43 Q4_0 and one Q6_K (output.weight) — the table of a clean run. */
    static final int GGUF_TENSORS = 57;

    @TempDir
    static Path shared;
    static Path model;
    static int dirTensors;

    @TempDir
    Path tmp;

    @BeforeAll
    static void copyModel() throws IOException {
        model = CliRun.copyModel(shared);
        Path ref = shared.resolve("reference-out");
        CliRun.run("quantize", model.toString(), "-o", ref.toString(), "--method", "rtn", "-q").ok();
        dirTensors = validDirectory(ref);
    }

    private static List<String> rtn(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("quantize", model.toString(), "-o", out.toString(), "--method", "rtn", "-q"));
        a.addAll(List.of(extra));
        return LowbitProcess.command(a.toArray(String[]::new));
    }

    /** 8 calibration windows of 128 tokens, quiet: the calibration of the GPTQ runs here. */
    private static final List<String> SHORT_CALIBRATION = List.of("--calib",
            CliRun.SHARED.resolve("data/calib_code.txt").toString(), "--calib-samples", "8", "--calib-seqlen", "128", "-q");

    /** A short GPTQ run (8 calibration windows of 128 tokens): calibration forward, Hessians and solves, then the commit. */
    private static List<String> gptq(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("quantize", model.toString(), "-o", out.toString(), "--method", "gptq"));
        a.addAll(SHORT_CALIBRATION);
        a.addAll(List.of(extra));
        return LowbitProcess.command(a.toArray(String[]::new));
    }

    /** GPTQ onto Q4_0 into a GGUF file (8 calibration windows of 128 tokens): the file is written layer by layer. */
    private static List<String> gptqGguf(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("quantize", model.toString(), "-o", out.toString(), "--format", "gguf",
                "--type", "Q4_0", "--method", "gptq"));
        a.addAll(SHORT_CALIBRATION);
        a.addAll(List.of(extra));
        return LowbitProcess.command(a.toArray(String[]::new));
    }

    private static List<String> q4_0(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("quantize", model.toString(), "-o", out.toString(), "--format", "gguf", "--type", "Q4_0"));
        a.addAll(List.of(extra));
        return LowbitProcess.command(a.toArray(String[]::new));
    }

    /** Reads a GPTQ output directory back whole; returns its tensor count. */
    static int validDirectory(Path out) throws IOException {
        assertTrue(Manifest.isLowbitManifest(out.resolve(Manifest.FILE_NAME)), out + " has no lowbit manifest");
        try (TensorSource s = ShardedSafetensors.open(out)) {
            long bytes = 0;
            for (String n : s.names()) bytes += s.tensor(n).data().byteSize();
            assertTrue(bytes > 1_000_000, "tensor data present");
            return s.names().size();
        }
    }

    static void validGguf(Path out) throws IOException {
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(GGUF_TENSORS, g.tensorInfos().size(), out.toString());
            for (var t : g.tensorInfos()) assertEquals(t.type().byteSizeOf(elements(t.dims())), g.data(t).byteSize(), t.name());
        }
        assertTrue(Manifest.isLowbitManifest(Manifest.sidecarOf(out)), "sidecar of " + out);
    }

    private static long elements(long[] dims) {
        long n = 1;
        for (long d : dims) n *= d;
        return n;
    }

    /** A moment to kill at: a condition on the files of the running process (pid), plus a delay after it. */
    record KillPoint(String name, java.util.function.Function<Long, BooleanSupplier> when, long delayMs) {}

    static KillPoint tempAppears(Path out, long delayMs) {
        return new KillPoint("temp+" + delayMs + "ms",
                pid -> () -> Files.exists(out.resolveSibling("." + out.getFileName() + ".lowbit-tmp-" + pid), LinkOption.NOFOLLOW_LINKS),
                delayMs);
    }

    /** The moment before the swap: the directory's manifest, or the file's sidecar, has been written. */
    static KillPoint aboutToCommit(Path out, boolean dir) {
        return new KillPoint("commit", pid -> {
            Path t = out.resolveSibling("." + out.getFileName() + ".lowbit-tmp-" + pid);
            Path marker = dir ? t.resolve(Manifest.FILE_NAME) : t.resolveSibling(t.getFileName() + ".manifest");
            return () -> Files.exists(marker);
        }, 0);
    }

    /** Starts the run, waits for the kill point (or the end), kills -9; returns what happened, for the messages. */
    private String killAt(List<String> cmd, KillPoint k) throws Exception {
        Process p = LowbitProcess.start(tmp.resolve("logs"), cmd);
        BooleanSupplier ready = k.when().apply(p.pid());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (p.isAlive() && !ready.getAsBoolean() && System.nanoTime() < deadline) Thread.sleep(2);
        if (k.delayMs() > 0) Thread.sleep(k.delayMs());
        boolean killed = p.isAlive();
        p.destroyForcibly();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        String what = k.name() + (killed ? " killed" : " finished first (exit " + p.exitValue() + ")");
        Path out = Path.of(cmd.get(cmd.indexOf("-o") + 1));
        System.out.println("kill -9 at " + what + ": output " + (Files.exists(out) ? "present" : "absent")
                + ", debris " + CliRun.debris(out.getParent()));
        return what;
    }

    @Test
    void killNineDuringAnRtnRunLeavesNoOutputOrTheNewOne() throws Exception {
        Path out = tmp.resolve("out");
        for (KillPoint k : List.of(tempAppears(out, 0), aboutToCommit(out, true))) {
            String what = killAt(rtn(out), k);
            if (Files.exists(out, LinkOption.NOFOLLOW_LINKS)) assertEquals(dirTensors, validDirectory(out), what);
        }
        LowbitProcess.Result r = LowbitProcess.run(tmp.resolve("logs"), rtn(out, "--force"));
        assertEquals(0, r.code(), r.err());
        assertEquals(dirTensors, validDirectory(out));
        assertEquals(List.of(), CliRun.debris(tmp));
    }

    @Test
    void killNineDuringAForcedReplacementLeavesTheOldOrTheNewOutput() throws Exception {
        Path out = tmp.resolve("out");
        CliRun.run("quantize", model.toString(), "-o", out.toString(), "--method", "rtn", "--bits", "8", "-q").ok();
        for (KillPoint k : List.of(tempAppears(out, 800), aboutToCommit(out, true), aboutToCommit(out, true))) {
            String what = killAt(rtn(out, "--force"), k);
            assertTrue(Files.isDirectory(out), what + ": the output must never be missing");
            assertEquals(dirTensors, validDirectory(out), what);
        }
        LowbitProcess.Result r = LowbitProcess.run(tmp.resolve("logs"), rtn(out, "--force"));
        assertEquals(0, r.code(), r.err());
        assertEquals(dirTensors, validDirectory(out));
        assertEquals(List.of(), CliRun.debris(tmp));
    }

    /**
     * GPTQ: killed while calibrating and solving (2 s after its temp output appeared), and right before the swap of a
     * forced replacement of an RTN output; the old output stays complete until the new one is, and the next run
     * leaves nothing behind.
     */
    @Test
    void killNineDuringAGptqRunLeavesTheOldOrTheNewOutput() throws Exception {
        Path out = tmp.resolve("out");
        String what = killAt(gptq(out), tempAppears(out, 2000));
        if (Files.exists(out, LinkOption.NOFOLLOW_LINKS)) assertEquals(dirTensors, validDirectory(out), what);
        CliRun.run("quantize", model.toString(), "-o", out.toString(), "--method", "rtn", "--force", "-q").ok();
        for (KillPoint k : List.of(tempAppears(out, 2000), aboutToCommit(out, true))) {
            what = killAt(gptq(out, "--force"), k);
            assertTrue(Files.isDirectory(out), what + ": the output must never be missing");
            assertEquals(dirTensors, validDirectory(out), what);
        }
        LowbitProcess.Result r = LowbitProcess.run(tmp.resolve("logs"), gptq(out, "--force"));
        assertEquals(0, r.code(), r.err());
        assertEquals(dirTensors, validDirectory(out));
        assertTrue(Files.readString(out.resolve("recipe.json")).contains("gptq"), "the GPTQ output replaced the RTN one");
        assertEquals(List.of(), CliRun.debris(tmp));
    }

    @Test
    void killNineDuringAGgufRunLeavesNoFileTheNewOneOrTheOldOne() throws Exception {
        Path out = tmp.resolve("q.gguf");
        for (KillPoint k : List.of(tempAppears(out, 0), aboutToCommit(out, false))) {
            String what = killAt(q4_0(out), k);
            // absent, or complete (a kill between the sidecar's rename and the file's may leave the sidecar alone)
            if (Files.exists(out, LinkOption.NOFOLLOW_LINKS)) validGguf(out);
        }
        LowbitProcess.Result r = LowbitProcess.run(tmp.resolve("logs"), q4_0(out, "--force"));
        assertEquals(0, r.code(), r.err());
        validGguf(out);
        // a forced replacement killed just before its swap: the old file (complete) or the new one
        String what = killAt(q4_0(out, "--force"), aboutToCommit(out, false));
        assertTrue(Files.isRegularFile(out), what);
        validGguf(out);
        r = LowbitProcess.run(tmp.resolve("logs"), q4_0(out, "--force"));
        assertEquals(0, r.code(), r.err());
        validGguf(out);
        assertEquals(Manifest.sha256(out), new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(Manifest.sidecarOf(out).toFile()).path("output_sha256").asText());
        assertEquals(List.of(), CliRun.debris(tmp));
    }

    /**
     * SIGTERM (what a CI timeout sends) while writing a new output, SIGINT (Ctrl-C) while replacing one: the shutdown
     * hook removes the temp data and the lock; nothing new is published and the replaced output stays as it was.
     */
    @Test
    void sigtermAndSigintMidWriteLeaveNothingBehind() throws Exception {
        Path out = tmp.resolve("out");
        Path q = tmp.resolve("q.gguf");
        CliRun.run("quantize", model.toString(), "-o", q.toString(), "--format", "gguf", "--type", "Q8_0").ok();
        String before = Manifest.sha256(q);
        interrupt("TERM", out, rtn(out));
        assertFalse(Files.exists(out), "an interrupted run publishes nothing");
        // GPTQ into the GGUF: the file is written while layers are calibrated, seconds, well past the 300 ms wait
        interrupt("INT", q, gptqGguf(q, "--force"));
        assertEquals(before, Manifest.sha256(q), "the old output is untouched");
        assertTrue(Manifest.isLowbitManifest(Manifest.sidecarOf(q)));
    }

    private void interrupt(String signal, Path target, List<String> cmd) throws Exception {
        Process p = LowbitProcess.start(tmp.resolve("logs"), withDefaultSignals(cmd));
        BooleanSupplier ready = tempAppears(target, 0).when().apply(p.pid());
        while (p.isAlive() && !ready.getAsBoolean()) Thread.sleep(2);
        Thread.sleep(300);
        assertTrue(p.isAlive(), "the run must still be writing");
        assertEquals(0, new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).start().waitFor());
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        System.out.println("SIG" + signal + " " + target.getFileName() + ": exit " + p.exitValue() + ", debris " + CliRun.debris(tmp));
        assertEquals(128 + ("TERM".equals(signal) ? 15 : 2), p.exitValue(), "128 + SIG" + signal);
        assertEquals(List.of(), CliRun.debris(tmp), "the shutdown hook cleaned up after SIG" + signal);
    }

    /**
     * The command run with SIGINT and SIGTERM at their default disposition ({@code env --default-signal}, coreutils
     * 8.31+; the command as it is where env lacks it). A shell starts its background jobs with SIGINT ignored, children
     * inherit that, and a JVM that starts with a signal ignored installs no handler for it: under such a test run (a
     * CI script started with {@code &}) Ctrl-C's signal did nothing and the run finished, exit 0.
     */
    private static List<String> withDefaultSignals(List<String> cmd) throws Exception {
        Process probe = new ProcessBuilder("env", "--default-signal=INT,TERM", "true").redirectErrorStream(true).start();
        probe.getInputStream().readAllBytes();
        if (probe.waitFor() != 0) return cmd;
        List<String> a = new ArrayList<>(List.of("env", "--default-signal=INT,TERM"));
        a.addAll(cmd);
        return a; // env execs the command: same pid, so the temp name the test waits for is unchanged
    }

    /** Another process holds the output (this JVM, through the same lock): a run against it fails at once, one line. */
    @Test
    void aConcurrentSecondRunFailsWithOneLine() throws Exception {
        Path out = tmp.resolve("out");
        CliRun.run("quantize", model.toString(), "-o", out.toString(), "--method", "rtn", "-q").ok();
        try (SafeOutput first = SafeOutput.directory(out, true, new SafeOutput.Inputs())) {
            LowbitProcess.Result second = LowbitProcess.run(tmp.resolve("logs"), rtn(out, "--force"));
            assertEquals(2, second.code(), second.err());
            assertEquals("lowbit: " + out + ": another lowbit run (pid " + ProcessHandle.current().pid()
                    + ") is writing this output; wait for it to finish or choose another -o", second.err().strip());
            assertTrue(Files.isDirectory(first.path()), "the second run does not touch the first one's temp data");
        }
        assertEquals(dirTensors, validDirectory(out));
        assertEquals(List.of(), CliRun.debris(tmp));
    }
}
