package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lowbit.io.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A GGUF written by {@code quantize --format gguf} is the same file on 1 thread and on 2 ({@code --threads} sets the
 * encoding threads). Q4_K_M mixes types (Q4_K, Q6_K) and runs the k-quant search on every decoder Linear.
 */
class GgufThreadCountTest {
    @TempDir
    Path tmp;

    @Test
    void sameBytesOnOneAndTwoThreads() throws IOException {
        Path model = SharedData.tinyLlama();
        Path one = tmp.resolve("t1.gguf"), two = tmp.resolve("t2.gguf");
        assertEquals(0, Main.execute("quantize", model.toString(), "-o", one.toString(), "--format", "gguf", "--type", "Q4_K_M",
                "--threads", "1", "-q"));
        assertEquals(0, Main.execute("quantize", model.toString(), "-o", two.toString(), "--format", "gguf", "--type", "Q4_K_M",
                "--threads", "2", "-q"));
        assertArrayEquals(Files.readAllBytes(one), Files.readAllBytes(two));
    }
}
