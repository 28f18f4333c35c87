package dev.lowbit.io.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.SharedData;
import java.util.List;
import org.junit.jupiter.api.Test;

class HfConfigTest {
    @Test
    void tinyLlamaConfigMatchesConfigJson() {
        HfConfig c = HfConfig.read(SharedData.tinyLlama().resolve("config.json"));
        assertEquals(List.of("LlamaForCausalLM"), c.architectures());
        assertEquals("llama", c.modelType());
        assertEquals(512, c.hiddenSize());
        assertEquals(1536, c.intermediateSize());
        assertEquals(6, c.numHiddenLayers());
        assertEquals(8, c.numAttentionHeads());
        assertEquals(4, c.numKeyValueHeads());
        assertEquals(2, c.groupSize());
        assertEquals(64, c.headDim());
        assertEquals(1e-5, c.rmsNormEps());
        assertEquals(8192, c.vocabSize());
        assertEquals(2048, c.maxPositionEmbeddings());
        assertFalse(c.tieWordEmbeddings());
        assertFalse(c.attentionBias());
        assertEquals(10_000.0, c.ropeTheta(), "from rope_parameters.rope_theta (transformers 5)");
        assertEquals(RopeScaling.NONE.ropeType(), c.ropeScaling().ropeType());
        assertTrue(c.ropeScaling().isDefault());
        assertEquals("bfloat16", c.dtype());
        assertEquals(1, c.bosTokenId());
        assertEquals(0, c.eosTokenId());
        assertEquals("silu", c.raw().get("hidden_act").asText());
    }

    @Test
    void transformers4StyleLlama31Config() {
        String json = """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
                 "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                 "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "vocab_size": 128256,
                 "max_position_embeddings": 131072, "rope_theta": 500000.0, "torch_dtype": "bfloat16",
                 "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                 "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "tie_word_embeddings": false}
                """;
        HfConfig c = HfConfig.parse(json, "config.json");
        assertEquals(500_000.0, c.ropeTheta(), "top-level rope_theta");
        assertEquals(new RopeScaling("llama3", 8.0, 1.0, 4.0, 8192), c.ropeScaling());
        assertEquals(128, c.headDim(), "default head_dim = hidden / heads");
        assertEquals("bfloat16", c.dtype());
        assertEquals(List.of(128001, 128008, 128009), c.eosTokenIds());
        assertEquals(128000, c.bosTokenId());
    }

    @Test
    void transformers5RopeParametersWithLinearScaling() {
        String json = """
                {"architectures": ["MysteryForCausalLM"], "hidden_size": 64, "num_hidden_layers": 2,
                 "num_attention_heads": 4, "vocab_size": 100, "dtype": "float16",
                 "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0}}
                """;
        HfConfig c = HfConfig.parse(json, "config.json");
        assertEquals(List.of("MysteryForCausalLM"), c.architectures(), "unknown architectures stay as data");
        assertEquals(1_000_000.0, c.ropeTheta());
        assertEquals("linear", c.ropeScaling().ropeType());
        assertEquals(2.0, c.ropeScaling().factor());
        assertTrue(Double.isNaN(c.ropeScaling().lowFreqFactor()));
        assertEquals(4, c.numKeyValueHeads(), "default kv heads = heads");
        assertEquals(16, c.headDim());
        assertEquals(1e-6, c.rmsNormEps(), "LlamaConfig default");
        assertEquals("float16", c.dtype());
        assertEquals(-1, c.bosTokenId());
        assertEquals(HfConfig.DEFAULT_ROPE_THETA, HfConfig.parse(
                "{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 100}", "c").ropeTheta());
    }

    @Test
    void legacyRopeScalingTypeKeyAndNullHeadDim() {
        HfConfig c = HfConfig.parse("""
                {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
                 "head_dim": null, "rope_scaling": {"type": "linear", "factor": 4.0}, "pad_token_id": null}
                """, "config.json");
        assertEquals("linear", c.ropeScaling().ropeType());
        assertEquals(16, c.headDim());
        assertNull(c.dtype());
    }

    @Test
    void invalidConfigsNameTheFieldAndFile() {
        assertBad("{\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 100}", "missing hidden_size");
        assertBad("{\"hidden_size\": \"64\", \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 100}",
                "hidden_size must be an integer");
        assertBad("{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 100,"
                + " \"num_key_value_heads\": 3}", "not a multiple of num_key_value_heads 3");
        assertBad("{\"hidden_size\": 65, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 100}",
                "head_dim is not given");
        assertBad("{\"hidden_size\": 0, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 100}",
                "hidden_size must be positive");
        assertBad("{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 100,"
                + " \"rope_theta\": \"big\"}", "rope_theta must be a number");
        assertBad("{\"hidden_size\": 64,", "not valid JSON");
        assertBad("[1, 2]", "not a JSON object");
    }

    private static void assertBad(String json, String fragment) {
        BadInputException e = assertThrows(BadInputException.class, () -> HfConfig.parse(json, "some/config.json"));
        assertEquals("some/config.json", e.source());
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should mention '" + fragment + "'");
        assertFalse(e.userMessage().contains("\n"), e.userMessage());
    }
}
