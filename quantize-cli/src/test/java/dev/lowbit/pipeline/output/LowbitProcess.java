package dev.lowbit.pipeline.output;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real CLI as a separate JVM — the java running these tests, with their classpath — so that a test can kill it
 * ({@code kill -9}, SIGTERM) at chosen moments. Output goes to files, so a killed process cannot block on a pipe.
 */
final class LowbitProcess {
    private LowbitProcess() {}

    static String java() {
        return ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    /** The command line of {@code lowbit ARGS}. */
    static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(java(), "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Dai.djl.offline=true", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), "dev.lowbit.cli.Main"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Starts {@code cmd} with stdout and stderr in files under {@code logs}. */
    static Process start(Path logs, List<String> cmd) throws IOException {
        Files.createDirectories(logs);
        return new ProcessBuilder(cmd)
                .redirectOutput(Files.createTempFile(logs, "out", ".txt").toFile())
                .redirectError(Files.createTempFile(logs, "err", ".txt").toFile())
                .start();
    }

    /** Runs {@code cmd} to the end (at most two minutes): exit code, stdout, stderr without the JVM's incubator warning. */
    static Result run(Path logs, List<String> cmd) throws IOException, InterruptedException {
        Files.createDirectories(logs);
        Path out = Files.createTempFile(logs, "out", ".txt"), err = Files.createTempFile(logs, "err", ".txt");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("timed out: " + cmd);
        }
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), stderr(err));
    }

    static String stderr(Path err) throws IOException {
        return Files.readString(err, StandardCharsets.UTF_8).lines()
                .filter(l -> !l.startsWith("WARNING: Using incubator modules")).reduce("", (a, b) -> a + b + "\n");
    }

    record Result(int code, String out, String err) {}
}
