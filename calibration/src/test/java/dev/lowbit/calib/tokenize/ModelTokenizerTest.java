package dev.lowbit.calib.tokenize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.SharedData;
import dev.lowbit.calib.data.TextDataset;
import org.junit.jupiter.api.Test;

class ModelTokenizerTest {
    /** reference.json: eval_code_tokens = 379,496 with whole-file tokenization and no special tokens. */
    @Test
    void wholeFileTokenCountMatchesReference() {
        try (ModelTokenizer tok = ModelTokenizer.open(SharedData.tinyLlama())) {
            assertEquals(379_496, tok.encode(TextDataset.read(SharedData.data("eval_code.txt"))).length);
            assertTrue(tok.bosToken().isEmpty(), "this tokenizer adds no BOS");
        }
    }

    /** reference.json: wiki_tokens = 403,812 (the file's CRLFs read as newlines, as Python's text mode does). */
    @Test
    void wikiTokenCountMatchesReference() {
        try (ModelTokenizer tok = ModelTokenizer.open(SharedData.tinyLlama())) {
            assertEquals(403_812, tok.encode(TextDataset.read(SharedData.data("wiki.test.raw"))).length);
        }
    }

    /** Cutting at the safe boundaries gives the same ids as one call (byte-level BPE). */
    @Test
    void chunkedEncodingEqualsWholeEncoding() {
        String text = TextDataset.read(SharedData.data("eval_code.txt")).substring(0, 20_000);
        try (ModelTokenizer tok = ModelTokenizer.open(SharedData.tinyLlama())) {
            int[] whole = tok.encode(text);
            java.util.List<Integer> pieces = new java.util.ArrayList<>();
            int start = 0;
            while (start < text.length()) {
                int end = ModelTokenizer.cut(text, start + 1500);
                for (int id : tok.encode(text.substring(start, end))) pieces.add(id);
                start = end;
            }
            assertArrayEquals(whole, pieces.stream().mapToInt(Integer::intValue).toArray());
        }
    }
}
