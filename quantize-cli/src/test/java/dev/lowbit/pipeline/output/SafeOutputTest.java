package dev.lowbit.pipeline.output;

import static dev.lowbit.pipeline.output.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.gguf.GgufFile;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8's data-loss, device, concurrency and stale-data classes, each against the real CLI on a private copy of
 * tiny-llama-code (RTN and GGUF Q8_0/Q4_0, a few seconds each). Every refusal must be exit 2, one line, naming the
 * user's path and no temp file — and must leave everything on disk as it was.
 */
class SafeOutputTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path shared;
    static Path model;

    @TempDir
    Path tmp;

    @BeforeAll
    static void copyModel() throws IOException {
        model = CliRun.copyModel(shared);
    }

    private static CliRun rtn(Path out, String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("quantize", model.toString(), "-o", out.toString(),
                "--method", "rtn", "-q"));
        args.addAll(List.of(extra));
        return run(args.toArray(String[]::new));
    }

    private static CliRun gguf(Path out, String type, String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("quantize", model.toString(), "-o", out.toString(),
                "--format", "gguf", "--type", type));
        args.addAll(List.of(extra));
        return run(args.toArray(String[]::new));
    }

    // ------------------------------------------------------------------ 1. data loss

    /** The cases: -o MODEL, "", ".", "/", a link to the model, its parent, a path inside it. */
    @Test
    void forceNeverTouchesAnInputTheCurrentDirectoryOrRoot() throws IOException {
        Map<String, Long> before = CliRun.listing(model);
        rtn(model, "--force").refused("is the input MODEL");
        gguf(model.resolve("model-00001-of-00005.safetensors"), "Q8_0", "--force").refused("lies inside the input MODEL");
        run("quantize", model.toString(), "-o", "", "--method", "rtn", "--force", "-q").refused("the output path is empty");
        run("quantize", model.toString(), "-o", ".", "--method", "rtn", "--force", "-q").refused("is the current directory");
        run("quantize", model.toString(), "-o", "/", "--method", "rtn", "--force", "-q").refused("root directory");
        Path cwdParent = Path.of("").toAbsolutePath().getParent();
        rtn(cwdParent, "--force").refused("contains the current directory");
        rtn(model.getParent(), "--force").refused("contains the input MODEL");
        rtn(model.resolve("sub"), "--force").refused("lies inside the input MODEL");
        Path link = Files.createSymbolicLink(tmp.resolve("link-to-model"), model);
        rtn(link, "--force").refused("is the input MODEL");
        Path aFile = Files.writeString(tmp.resolve("a-file"), "x");
        rtn(aFile.resolve("out")).refused("cannot create its parent directory: a file is in the way");
        gguf(tmp.resolve("missing/q.gguf"), "Q8_0").refused("does not exist");
        // a model given through a link and an output given through "..": compared as real paths
        rtn(tmp.resolve("x/../link-to-model"), "--force").refused("is the input MODEL");
        Files.delete(link);
        assertEquals(before, CliRun.listing(model), "the model is untouched");
        assertTrue(Files.exists(Path.of("pom.xml")), "the current directory is untouched");
        assertFalse(Files.exists(model.resolve("sub")));
    }

    @Test
    void forceNeverTouchesTheHomeDirectory() throws IOException {
        Path home = Files.createDirectories(tmp.resolve("home"));
        Files.writeString(home.resolve(".bashrc"), "keep");
        String old = System.getProperty("user.home");
        System.setProperty("user.home", home.toString());
        try {
            rtn(home, "--force").refused("is the home directory");
            rtn(tmp, "--force").refused("contains the home directory");
        } finally {
            System.setProperty("user.home", old);
        }
        assertEquals("keep", Files.readString(home.resolve(".bashrc")));
    }

    /** A recipe or calibration file inside OUT is an input too: replaying into the same OUT is refused. */
    @Test
    void forceNeverReplacesAnOutputHoldingTheRecipeOrCalibrationItReads() throws IOException {
        Path out = tmp.resolve("w4");
        rtn(out).ok();
        run("quantize", model.toString(), "-o", out.toString(), "--recipe", out.resolve("recipe.json").toString(),
                "--force", "-q").refused("contains the input --recipe");
        Path calib = out.resolve("calib.txt");
        Files.writeString(calib, Files.readString(CliRun.SHARED.resolve("data/calib_code.txt")).substring(0, 4000));
        run("quantize", model.toString(), "-o", out.toString(), "--method", "gptq", "--calib", calib.toString(),
                "--calib-samples", "1", "--calib-seqlen", "16", "--force", "-q").refused("contains the input --calib");
        assertTrue(Files.exists(out.resolve("recipe.json")) && Files.exists(calib));
    }

    /** --force replaces only what lowbit wrote: a directory with its manifest, a file with its sidecar. */
    @Test
    void forceReplacesOnlyLowbitOutputs() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("mine"));
        Files.writeString(dir.resolve("keep.txt"), "user data");
        rtn(dir).refused("already exists (pass --force");
        rtn(dir, "--force").refused("is not an output lowbit wrote");
        // a manifest that does not say lowbit is not enough
        Files.writeString(dir.resolve(Manifest.FILE_NAME), "{\"tool\": \"other\"}");
        rtn(dir, "--force").refused("is not an output lowbit wrote");
        assertEquals("user data", Files.readString(dir.resolve("keep.txt")));

        Path file = tmp.resolve("mine.gguf");
        Files.writeString(file, "user data");
        gguf(file, "Q8_0", "--force").refused("was not written by lowbit");
        run("convert", model.toString(), "-o", file.toString(), "--type", "f16", "--force").refused("was not written by lowbit");
        Path data = tmp.resolve("text.txt");
        Files.writeString(data, "def f():\n    return 1\n");
        run("tokenize", model.toString(), "--data", data.toString(), "-o", file.toString(), "--force").refused("was not written by lowbit");
        assertEquals("user data", Files.readString(file));

        // a lowbit output that a user added a file to: --force would lose it, so it is refused
        Path out = tmp.resolve("out");
        rtn(out).ok();
        Files.writeString(out.resolve("notes.txt"), "my notes");
        rtn(out, "--force").refused("holds files lowbit did not write (notes.txt); --force would delete them");
        assertEquals("my notes", Files.readString(out.resolve("notes.txt")));
        Files.delete(out.resolve("notes.txt"));
        // the wrong kind of lowbit output is refused too
        gguf(out, "Q8_0", "--force").refused("is a directory, not a file lowbit wrote");
        Path q = tmp.resolve("q.gguf");
        gguf(q, "Q8_0").ok();
        rtn(q, "--force").refused("is a file, not an output directory lowbit wrote");
        assertEquals(List.of(), CliRun.debris(tmp));
    }

    // ------------------------------------------------------------------ 2. atomic replacement and one writer

    /** --force swaps the new output in whole: the old one is gone, the new one complete, nothing else left. */
    @Test
    void forceSwapsTheNewOutputInAndLeavesNothingBehind() throws IOException {
        Path out = tmp.resolve("out");
        rtn(out, "--bits", "4").ok();
        rtn(out, "--bits", "8", "--force").ok();
        assertEquals(8, JSON.readTree(out.resolve("config.json").toFile()).path("quantization_config").path("bits").asInt());
        assertTrue(Manifest.isLowbitManifest(out.resolve(Manifest.FILE_NAME)));
        // through a link: what the link names is replaced, the link stays
        Path link = Files.createSymbolicLink(tmp.resolve("latest"), out);
        rtn(link, "--bits", "4", "--force").ok();
        assertTrue(Files.isSymbolicLink(link));
        assertEquals(4, JSON.readTree(out.resolve("config.json").toFile()).path("quantization_config").path("bits").asInt());
        assertEquals(List.of(), CliRun.debris(tmp));

        Path q = tmp.resolve("q.gguf");
        gguf(q, "Q8_0").ok();
        gguf(q, "Q4_0", "--force").ok();
        try (GgufFile g = GgufFile.open(q)) {
            assertEquals(2, g.get("general.file_type").asInt(), "Q4_0 is llama_ftype 2");
        }
        JsonNode sidecar = JSON.readTree(Manifest.sidecarOf(q).toFile());
        assertEquals("q.gguf", sidecar.path("output").asText());
        assertEquals(Files.size(q), sidecar.path("output_bytes").asLong());
        assertEquals(Manifest.sha256(q), sidecar.path("output_sha256").asText());
        assertEquals("Q4_0", sidecar.path("recipe").path("output").path("type").asText(), sidecar.toString());

        Path ids = tmp.resolve("ids.i32");
        Path data = tmp.resolve("text.txt");
        Files.writeString(data, "def f():\n    return 1\n");
        run("tokenize", model.toString(), "--data", data.toString(), "-o", ids.toString()).ok();
        run("tokenize", model.toString(), "--data", data.toString(), "-o", ids.toString()).refused("already exists");
        run("tokenize", model.toString(), "--data", data.toString(), "-o", ids.toString(), "--force").ok();
        assertEquals(List.of(), CliRun.debris(tmp));
    }

    /** renameat2 through FFM: RENAME_EXCHANGE swaps two directories, RENAME_NOREPLACE refuses an existing target. */
    @Test
    void renameat2ExchangesAndRefusesToReplace() throws IOException {
        assumeTrue(Renameat2.available(), "no renameat2 in this C library");
        Path a = Files.createDirectories(tmp.resolve("a")), b = Files.createDirectories(tmp.resolve("b"));
        Files.writeString(a.resolve("f"), "A");
        Files.writeString(b.resolve("f"), "B");
        assertEquals(0, Renameat2.rename(a, b, Renameat2.RENAME_EXCHANGE));
        assertEquals("B", Files.readString(a.resolve("f")));
        assertEquals("A", Files.readString(b.resolve("f")));
        assertEquals(Renameat2.EEXIST, Renameat2.rename(a, b, Renameat2.RENAME_NOREPLACE));
        assertEquals(Renameat2.ENOENT, Renameat2.rename(tmp.resolve("none"), b, Renameat2.RENAME_EXCHANGE));
        assertEquals(0, Renameat2.rename(a, tmp.resolve("c"), Renameat2.RENAME_NOREPLACE));
        assertEquals("B", Files.readString(tmp.resolve("c/f")));
    }

    /** A second writer to the same output fails at once with one line; the first one's output is unharmed. */
    @Test
    void aSecondWriterToTheSameOutputFailsAtOnce() throws IOException {
        Path out = tmp.resolve("out");
        rtn(out).ok();
        try (SafeOutput first = SafeOutput.directory(out, true, new SafeOutput.Inputs())) {
            rtn(out, "--force").refused("another lowbit run (pid " + ProcessHandle.current().pid() + ") is writing this output");
            assertTrue(Files.isDirectory(first.path()));
        }
        assertTrue(Manifest.isLowbitManifest(out.resolve(Manifest.FILE_NAME)));
        assertEquals(List.of(), CliRun.debris(tmp));
        rtn(out, "--force").ok();
    }

    // ------------------------------------------------------------------ 5. recipe and manifest paths

    /**
     * recipe.json names the calibration file relative to the output, with its sha256, and the manifest holds no
     * absolute path; a replay from another working directory (a separate process started elsewhere) finds the file,
     * and a changed file is refused.
     */
    @Test
    void recipeReplaysFromAnotherDirectoryAndTheManifestHoldsNoAbsolutePath() throws Exception {
        Path work = Files.createDirectories(tmp.resolve("work"));
        Path calib = work.resolve("calib.txt");
        Files.writeString(calib, Files.readString(CliRun.SHARED.resolve("data/calib_code.txt")).substring(0, 6000));
        Path out = work.resolve("runs/w4");
        run("quantize", model.toString(), "-o", out.toString(), "--method", "gptq", "--calib", calib.toAbsolutePath().toString(),
                "--calib-samples", "1", "--calib-seqlen", "16", "--targets", "layers\\.0\\.self_attn\\.q_proj", "-q").ok();
        JsonNode recipe = JSON.readTree(out.resolve("recipe.json").toFile());
        assertEquals("../../calib.txt", recipe.path("calibration").path("data").asText());
        assertEquals(Manifest.sha256(calib), recipe.path("calibration").path("sha256").asText());
        for (String f : List.of("recipe.json", Manifest.FILE_NAME)) {
            String text = Files.readString(out.resolve(f));
            assertFalse(text.contains(tmp.toString()) || text.contains(model.toString()), f + " holds an absolute path");
            assertFalse(text.matches("(?s).*\"/[^\"]*\".*"), f + " holds an absolute path");
        }
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        Path replay = tmp.resolve("replay");
        List<String> cmd = LowbitProcess.command("quantize", model.toString(), "-o", replay.toString(),
                "--recipe", out.resolve("recipe.json").toString(), "-q");
        Process p = new ProcessBuilder(cmd).directory(elsewhere.toFile()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), log);
        assertEquals(-1L, Files.mismatch(out.resolve("model-00002-of-00007.safetensors"), replay.resolve("model-00002-of-00007.safetensors")),
                "layer 0 replays byte for byte");
        JsonNode again = JSON.readTree(replay.resolve("recipe.json").toFile());
        assertEquals("../work/calib.txt", again.path("calibration").path("data").asText(), "relative to the new output");
        assertEquals(recipe.path("calibration").path("sha256"), again.path("calibration").path("sha256"));
        Files.writeString(calib, "changed", java.nio.file.StandardOpenOption.APPEND);
        run("quantize", model.toString(), "-o", tmp.resolve("again").toString(), "--recipe", out.resolve("recipe.json").toString(),
                "-q").refused("has changed since the recipe was written");
    }

    // ------------------------------------------------------------------ 3. devices, FIFOs, sockets

    @Test
    void devicesFifosAndSocketsAreRefusedEvenWithForce() throws Exception {
        Path devNull = Path.of("/dev/null");
        assumeTrue(Files.exists(devNull));
        rtn(devNull, "--force").refused("/dev/null: is a character device");
        gguf(devNull, "Q8_0", "--force").refused("/dev/null: is a character device");
        run("convert", model.toString(), "-o", "/dev/null", "--type", "q8_0", "--force").refused("is a character device");
        Path data = tmp.resolve("text.txt");
        Files.writeString(data, "def f():\n    return 1\n");
        run("tokenize", model.toString(), "--data", data.toString(), "-o", "/dev/null", "--force").refused("is a character device");
        Path link = Files.createSymbolicLink(tmp.resolve("null.gguf"), devNull);
        gguf(link, "Q8_0", "--force").refused("is a character device");
        Path dangling = Files.createSymbolicLink(tmp.resolve("dangling.gguf"), tmp.resolve("nowhere"));
        gguf(dangling, "Q8_0", "--force").refused("is a symbolic link to nothing");
        assertTrue(Files.isSymbolicLink(dangling) && !Files.exists(tmp.resolve("nowhere")));

        Path sock = tmp.resolve("s.gguf");
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(sock));
            gguf(sock, "Q8_0", "--force").refused("is a socket");
        }
        Path fifo = tmp.resolve("fifo.gguf");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assumeTrue(p.waitFor() == 0, "mkfifo failed");
        gguf(fifo, "Q8_0", "--force").refused("is a FIFO");
        rtn(fifo, "--force").refused("is a FIFO");
        assertEquals("a character device", FileKinds.describe(devNull));
        assertTrue(Files.isSymbolicLink(link) && !Files.isRegularFile(fifo, LinkOption.NOFOLLOW_LINKS));
    }

    // ------------------------------------------------------------------ 4. stale data of dead processes

    /** kill -9 leftovers (temp dir, temp file, sidecar temp, lock file) of a dead pid go at the next run; a live pid's stay. */
    @Test
    void staleTempDataOfDeadProcessesIsRemovedByTheNextRun() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        long dead = gone.pid();
        assumeTrue(ProcessHandle.of(dead).isEmpty(), "pid reused already");
        long alive = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(1L);

        Path staleDir = Files.createDirectories(tmp.resolve(".out.lowbit-tmp-" + dead));
        Files.writeString(staleDir.resolve("model-00001-of-00007.safetensors"), "half written");
        Path liveDir = Files.createDirectories(tmp.resolve(".out.lowbit-tmp-" + alive));
        // a pid that lives again, but in a process started after the temp data was last written: reused, so stale
        Path reused = Files.createDirectories(tmp.resolve(".out.lowbit-tmp-" + ProcessHandle.current().parent().orElseThrow()
                .parent().map(ProcessHandle::pid).orElse(1L)));
        Files.setLastModifiedTime(reused, java.nio.file.attribute.FileTime.fromMillis(0));
        Files.writeString(tmp.resolve(".out.lowbit-lock"), dead + " 1234");
        rtn(tmp.resolve("out")).ok();
        assertFalse(Files.exists(staleDir, LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(reused, LinkOption.NOFOLLOW_LINKS), "a reused pid's temp data from 1970 goes");
        assertTrue(Files.exists(liveDir), "a live process's temp data stays");
        Files.delete(liveDir);

        Files.writeString(tmp.resolve(".q.gguf.lowbit-tmp-" + dead), "half written");
        Files.writeString(tmp.resolve(".q.gguf.8146153915263712396.tmp"), "left by a lowbit before SafeOutput");
        Files.writeString(tmp.resolve(".q.gguf.lowbit-tmp-" + dead + ".manifest"), "{}");
        gguf(tmp.resolve("q.gguf"), "Q8_0").ok();
        assertEquals(List.of(), CliRun.debris(tmp));
    }

    /** The open-time checks run before anything exists: a refused output leaves no lock or temp file. */
    @Test
    void aRefusedOutputLeavesNoDebris() throws IOException {
        BadInputException e = org.junit.jupiter.api.Assertions.assertThrows(BadInputException.class,
                () -> SafeOutput.file(model.resolve("config.json"), true, new SafeOutput.Inputs().add("MODEL", model)));
        assertTrue(e.getMessage().contains("is the input MODEL") || e.getMessage().contains("lies inside"), e.getMessage());
        assertEquals(List.of(), CliRun.debris(model));
        assertEquals(List.of(), CliRun.debris(model.getParent()));
    }
}
