package dev.lowbit.pipeline.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.cli.Main;
import dev.lowbit.io.SharedData;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Runs the real CLI in-process ({@link Main#execute}) and keeps what a user would see. */
public record CliRun(int code, String out, String err) {
    static final Path SHARED = SharedData.root();
    static final Path TINY = SHARED.resolve("models/tiny-llama-code");

    public static CliRun run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Main.execute(args);
            return new CliRun(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** Exit 2 with exactly one {@code lowbit: } line holding {@code expected}, naming no temp file of ours. */
    CliRun refused(String expected) {
        assertEquals(2, code, err);
        List<String> lines = err.strip().lines().toList();
        assertEquals(1, lines.size(), err);
        assertTrue(lines.getFirst().startsWith("lowbit: "), err);
        assertTrue(err.contains(expected), "expected '" + expected + "' in: " + err);
        assertFalse(err.contains("lowbit-tmp") || err.contains("lowbit-lock"), "names a temp file: " + err);
        return this;
    }

    CliRun ok() {
        assertEquals(0, code, err);
        return this;
    }

    /** A private copy of tiny-llama-code under {@code dir} (tests never write into ../shared). */
    static Path copyModel(Path dir) throws IOException {
        Path m = dir.resolve("tiny-llama-code");
        Files.createDirectories(m);
        try (Stream<Path> s = Files.list(TINY)) {
            for (Path f : s.toList()) Files.copy(f, m.resolve(f.getFileName()));
        }
        return m;
    }

    /** Every entry of {@code dir} whose name marks it as lowbit's temp or lock data. */
    static List<String> debris(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains(".lowbit-tmp-") || n.endsWith(".lowbit-lock") || n.endsWith(".tmp"))
                    .sorted().toList();
        }
    }

    /** Name → size of every file in {@code dir}: enough to see that nothing was deleted or rewritten. */
    static java.util.Map<String, Long> listing(Path dir) throws IOException {
        java.util.Map<String, Long> m = new java.util.TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) m.put(p.getFileName().toString(), Files.isRegularFile(p) ? Files.size(p) : -1L);
        }
        return m;
    }
}
