package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvaluateCommandTest {
    @TempDir
    Path dir;

    private record Run(int code, String err) {}

    private static Run run(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        try {
            return new Run(Main.execute(args), err.toString());
        } finally {
            System.setErr(old);
        }
    }

    @Test
    void missingConfigIsOneLineAndExitCode2() throws Exception {
        Path data = Files.writeString(dir.resolve("d.txt"), "hello");
        Run r = run("evaluate", dir.toString(), "--data", data.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("lowbit: ") && r.err().contains("config.json"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void unsupportedArchitectureIsExitCode2() throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"architectures\":[\"BertModel\"]}");
        Path data = Files.writeString(dir.resolve("d.txt"), "hello");
        Run r = run("evaluate", dir.toString(), "--data", data.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("unsupported architecture 'BertModel'") && r.err().contains("LlamaForCausalLM"), r.err());
    }

    @Test
    void unknownProtocolIsUsageError() {
        Run r = run("evaluate", dir.toString(), "--data", "x", "--protocol", "hf");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--protocol"), r.err());
    }
}
