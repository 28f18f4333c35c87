package dev.lowbit.calib.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetTest {
    @TempDir
    Path dir;

    @Test
    void jsonlTextFieldsAreJoined() throws Exception {
        Path f = Files.writeString(dir.resolve("d.jsonl"), "{\"text\":\"a\\nb\"}\n\n{\"text\":\"c\",\"id\":2}\n");
        assertEquals("a\nb\n\nc", TextDataset.read(f));
        Path bad = Files.writeString(dir.resolve("bad.jsonl"), "{\"text\":\"a\"}\n{\"body\":1}\n");
        assertTrue(assertThrows(BadInputException.class, () -> TextDataset.read(bad)).userMessage().contains("line 2"));
    }

    @Test
    void plainTextIsReadWithUniversalNewlines() throws Exception {
        Path f = dir.resolve("crlf.txt");
        Files.write(f, "a\r\nb\rc\n\r\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertEquals("a\nb\nc\n\n", TextDataset.read(f));
    }

    @Test
    void firstWindowsDropTheRemainder() {
        int[] tokens = new int[10];
        for (int i = 0; i < tokens.length; i++) tokens[i] = i;
        int[][] w = TokenWindows.first(tokens, 3, 0, "t");
        assertEquals(3, w.length);
        assertArrayEquals(new int[] {6, 7, 8}, w[2]);
        assertEquals(2, TokenWindows.first(tokens, 3, 2, "t").length);
        assertThrows(BadInputException.class, () -> TokenWindows.first(tokens, 11, 0, "t"));
    }

    @Test
    void calibrationWindowsAreExactlyTheCountAskedFor() {
        int[] tokens = new int[10];
        for (int i = 0; i < tokens.length; i++) tokens[i] = i;
        assertEquals(3, TokenWindows.exactly(tokens, 3, 3, "t").length);
        BadInputException e = assertThrows(BadInputException.class, () -> TokenWindows.exactly(tokens, 3, 4, "calib.txt"));
        // one line naming the file, what it holds and what was asked
        assertTrue(e.userMessage().contains("calib.txt") && e.getMessage().contains("3 window(s) of 3")
                && e.getMessage().contains("the 4 asked for"), e.userMessage());
    }

    @Test
    void randomWindowsAreSeededAndInRange() {
        int[] tokens = new int[100];
        for (int i = 0; i < tokens.length; i++) tokens[i] = i;
        int[][] a = TokenWindows.random(tokens, 10, 5, 42, "t");
        int[][] b = TokenWindows.random(tokens, 10, 5, 42, "t");
        for (int i = 0; i < a.length; i++) {
            assertArrayEquals(a[i], b[i]);
            for (int j = 1; j < 10; j++) assertEquals(a[i][0] + j, a[i][j]);
            assertTrue(a[i][9] < 100);
        }
    }
}
