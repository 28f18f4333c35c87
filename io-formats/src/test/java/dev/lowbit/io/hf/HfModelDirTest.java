package dev.lowbit.io.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfModelDirTest {
    @Test
    void opensTinyLlamaDirectory() {
        try (HfModelDir m = HfModelDir.open(SharedData.tinyLlama())) {
            assertEquals(6, m.config().numHiddenLayers());
            assertEquals(57, m.tensors().names().size());
            assertEquals(Optional.of(SharedData.tinyLlama().resolve("tokenizer.json")), m.tokenizerJson());
            assertEquals(Optional.of(SharedData.tinyLlama().resolve("tokenizer_config.json")), m.tokenizerConfig());
            long vocabRows = m.tensors().tensor("model.embed_tokens.weight").shape().dim(0);
            assertEquals(m.config().vocabSize(), vocabRows);
        }
    }

    @Test
    void missingConfigJsonIsNamed(@TempDir Path dir) throws IOException {
        Files.copy(SharedData.tinyLlama().resolve("model-00005-of-00005.safetensors"), dir.resolve("model.safetensors"));
        BadInputException e = assertThrows(BadInputException.class, () -> HfModelDir.open(dir));
        assertEquals(dir.resolve("config.json").toString(), e.source());
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
    }

    @Test
    void invalidConfigJsonIsNamed(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": ");
        BadInputException e = assertThrows(BadInputException.class, () -> HfModelDir.open(dir));
        assertEquals(dir.resolve("config.json").toString(), e.source());
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    @Test
    void directoryWithoutWeightsAndWithoutTokenizer(@TempDir Path dir) throws IOException {
        Files.copy(SharedData.tinyLlama().resolve("config.json"), dir.resolve("config.json"));
        BadInputException e = assertThrows(BadInputException.class, () -> HfModelDir.open(dir));
        assertTrue(e.getMessage().contains("no model.safetensors"), e.getMessage());

        Files.copy(SharedData.tinyLlama().resolve("model-00005-of-00005.safetensors"), dir.resolve("model.safetensors"));
        try (HfModelDir m = HfModelDir.open(dir)) {
            assertEquals(Optional.empty(), m.tokenizerJson());
            assertEquals(java.util.List.of("lm_head.weight"), m.tensors().names());
        }
    }

    @Test
    void configJsonThatIsNotUtf8(@TempDir Path dir) throws IOException {
        Files.write(dir.resolve("config.json"), new byte[] {'{', '"', (byte) 0xFF, '"', ':', '1', '}'});
        BadInputException e = assertThrows(BadInputException.class, () -> HfModelDir.open(dir));
        assertTrue(e.getMessage().contains("not valid UTF-8"), e.getMessage());
    }

    @Test
    void notADirectory() {
        Path file = SharedData.tinyLlama().resolve("config.json");
        BadInputException e = assertThrows(BadInputException.class, () -> HfModelDir.open(file));
        assertTrue(e.getMessage().contains("not a directory"), e.getMessage());
    }
}
