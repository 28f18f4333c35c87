package dev.lowbit.pipeline.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full disk and a read-only file system, for real: the CLI runs inside a private user and mount namespace
 * ({@code unshare -rm}, no root needed) with a 4 MiB tmpfs — too small for tiny-llama-code at 4 bits — or a read-only
 * one mounted where the output goes. Expected: exit 2, one line naming the output and the cause, and nothing left
 * on that file system (listed from inside the namespace, since the mount disappears with it). Skipped where user
 * namespaces are not allowed.
 */
class SafeOutputDiskTest {
    @TempDir
    static Path shared;
    static Path model;

    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() throws Exception {
        Process p = new ProcessBuilder("unshare", "-rm", "true").redirectErrorStream(true).start();
        assumeTrue(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0, "unshare -rm is not allowed here");
        model = CliRun.copyModel(shared);
    }

    /** Runs {@code lowbit ARGS} with a tmpfs ({@code options}) on {@code mount}; returns stderr and the listing after. */
    private LowbitProcess.Result inNamespace(Path mount, String options, String... args) throws Exception {
        Files.createDirectories(mount);
        List<String> cmd = new ArrayList<>(List.of("unshare", "-rm", "sh", "-c",
                "mount -t tmpfs -o \"$2\" lowbit-test \"$1\" || exit 99; m=$1; shift 2; \"$@\"; rc=$?; "
                        + "echo \"listing:$(ls -A \"$m\" | tr '\\n' ' ')\"; exit $rc",
                "sh", mount.toString(), options));
        cmd.addAll(LowbitProcess.command(args));
        LowbitProcess.Result r = LowbitProcess.run(tmp.resolve("logs"), cmd);
        assumeTrue(r.code() != 99, "cannot mount a tmpfs in a user namespace here: " + r.err());
        return r;
    }

    private static void refusedWith(LowbitProcess.Result r, String expectedLine) {
        assertEquals(2, r.code(), r.err());
        assertEquals(expectedLine, r.err().strip());
        assertFalse(r.err().contains("lowbit-tmp"), r.err());
        assertEquals("listing:", r.out().lines().filter(l -> l.startsWith("listing:")).findFirst().orElse("?").strip(),
                "nothing may be left on the file system");
    }

    @Test
    void diskFullIsExitTwoNamingTheOutputAndLeavesNothing() throws Exception {
        Path mount = tmp.resolve("small");
        Path dir = mount.resolve("w4"), file = mount.resolve("q4.gguf");
        refusedWith(inNamespace(mount, "size=4m", "quantize", model.toString(), "-o", dir.toString(), "--method", "rtn", "-q"),
                "lowbit: " + dir + ": cannot write: no space left on device");
        refusedWith(inNamespace(mount, "size=4m", "quantize", model.toString(), "-o", file.toString(), "--format", "gguf",
                "--type", "Q4_0", "-q"), "lowbit: " + file + ": cannot write: no space left on device");
    }

    @Test
    void readOnlyFileSystemIsExitTwoNamingTheOutput() throws Exception {
        Path mount = tmp.resolve("ro");
        Path dir = mount.resolve("w4"), file = mount.resolve("q8.gguf");
        refusedWith(inNamespace(mount, "size=4m,ro", "quantize", model.toString(), "-o", dir.toString(), "--method", "rtn", "-q"),
                "lowbit: " + dir + ": cannot create the lock file beside it: read-only file system");
        refusedWith(inNamespace(mount, "size=4m,ro", "convert", model.toString(), "-o", file.toString(), "--type", "q8_0"),
                "lowbit: " + file + ": cannot create the lock file beside it: read-only file system");
    }

    /** The parent directory is created by lowbit for a directory output; on a read-only file system that fails first. */
    @Test
    void readOnlyParentThatDoesNotExistYet() throws Exception {
        Path mount = tmp.resolve("ro2");
        Path dir = mount.resolve("a/b/w4");
        refusedWith(inNamespace(mount, "size=4m,ro", "quantize", model.toString(), "-o", dir.toString(), "--method", "rtn", "-q"),
                "lowbit: " + dir + ": cannot create its parent directory: read-only file system");
    }
}
