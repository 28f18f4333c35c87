package dev.lowbit.calib.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.SharedData;
import dev.lowbit.calib.tokenize.ModelTokenizer;
import dev.lowbit.io.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaConfigTest {
    @TempDir
    Path dir;

    @Test
    void tinyLlamaFromTransformers5RopeParameters() {
        LlamaConfig c = LlamaConfig.fromJson(SharedData.tinyLlama());
        assertEquals("LlamaForCausalLM", c.architecture().name());
        assertEquals(512, c.hiddenSize());
        assertEquals(6, c.numLayers());
        assertEquals(8, c.numHeads());
        assertEquals(4, c.numKvHeads());
        assertEquals(64, c.headDim());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals("default", c.ropeScaling().type());
        assertEquals(false, c.tieWordEmbeddings());
    }

    @Test
    void legacyRopeThetaAndLinearScaling() throws Exception {
        Files.writeString(dir.resolve("config.json"), """
                {"architectures":["MistralForCausalLM"],"hidden_size":64,"num_hidden_layers":1,"num_attention_heads":4,
                 "num_key_value_heads":2,"intermediate_size":128,"vocab_size":10,"rope_theta":500000.0,
                 "rope_scaling":{"type":"linear","factor":2.0}}""");
        LlamaConfig c = LlamaConfig.fromJson(dir);
        assertEquals(500000.0, c.ropeTheta());
        float[] inv = c.ropeScaling().inverseFrequencies(c.ropeTheta(), c.headDim());
        assertEquals(0.5f, inv[0]);
    }

    @Test
    void unsupportedArchitectureIsNamedWithTheSupportedOnes() throws Exception {
        Files.writeString(dir.resolve("config.json"), """
                {"architectures":["GPT2LMHeadModel"],"hidden_size":64}""");
        var e = assertThrows(BadInputException.class, () -> LlamaConfig.fromJson(dir));
        assertTrue(e.userMessage().contains("unsupported architecture 'GPT2LMHeadModel'"), e.userMessage());
        assertTrue(e.userMessage().contains("Qwen3ForCausalLM"), e.userMessage());
    }

    @Test
    void missingOrBrokenConfigAndMissingTokenizerAreBadInput() throws Exception {
        assertTrue(assertThrows(BadInputException.class, () -> LlamaConfig.fromJson(dir)).userMessage().contains("config.json"));
        Files.writeString(dir.resolve("config.json"), "{not json");
        assertTrue(assertThrows(BadInputException.class, () -> LlamaConfig.fromJson(dir)).userMessage().contains("not valid JSON"));
        Files.writeString(dir.resolve("config.json"), "{\"architectures\":[\"LlamaForCausalLM\"]}");
        assertTrue(assertThrows(BadInputException.class, () -> LlamaConfig.fromJson(dir)).userMessage().contains("hidden_size"));
        assertTrue(assertThrows(BadInputException.class, () -> ModelTokenizer.open(dir)).userMessage().contains("tokenizer.json"));
    }

    @Test
    void unsupportedRopeScalingIsBadInput() throws Exception {
        Files.writeString(dir.resolve("config.json"), """
                {"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_hidden_layers":1,"num_attention_heads":4,
                 "intermediate_size":128,"vocab_size":10,"rope_scaling":{"rope_type":"yarn","factor":4.0}}""");
        var e = assertThrows(BadInputException.class, () -> LlamaConfig.fromJson(dir));
        assertTrue(e.userMessage().contains("'yarn'") && e.userMessage().contains("llama3"), e.userMessage());
    }
}
