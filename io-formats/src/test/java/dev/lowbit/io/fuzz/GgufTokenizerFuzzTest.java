package dev.lowbit.io.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.model.GgufTokenizerJson;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz target for the tokenizer metadata of a GGUF ({@code tokenizer.ggml.*}: model, tokens, scores, token types,
 * merges, special ids) turned into a tokenizer.json: any GGUF header either gives a JSON document or fails with
 * {@link BadInputException}. Seed: stories260K's header (its 21 keys, a 512-token SentencePiece vocabulary, no tensors).
 */
class GgufTokenizerFuzzTest {
    @BeforeAll
    static void hooks() {
        FuzzMode.configure();
    }

    @FuzzTest(maxDuration = "60s")
    void synthesize(byte[] data) {
        try (GgufFile f = GgufFile.parse(Path.of("fuzz.gguf"), MemorySegment.ofArray(data))) {
            String json = GgufTokenizerJson.synthesize(f);
            try {
                new com.fasterxml.jackson.databind.ObjectMapper().readTree(json); // what it returns is JSON
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new AssertionError("not JSON: " + e.getOriginalMessage());
            }
        } catch (BadInputException expected) {
            // refused with a message naming the file
        }
    }
}
