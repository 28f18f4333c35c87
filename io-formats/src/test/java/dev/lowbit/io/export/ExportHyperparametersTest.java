package dev.lowbit.io.export;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.gguf.GgufArray;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufValueType;

import dev.lowbit.io.BadInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

import static org.junit.jupiter.api.Assertions.*;

class ExportHyperparametersTest {
    static final Path TINY = SharedData.tinyLlama();

    @Test
    void tinyLlamaCodeKeysAndTypes() {
        ModelHyperparameters hp = ModelHyperparameters.fromHuggingFace(TINY);
        SequencedMap<String, GgufValue> kv = hp.toKvs(LlamaFtype.Q4_K_M);
        Map<String, GgufValue> want = new LinkedHashMap<>();
        want.put("general.architecture", GgufValue.ofString("llama"));
        want.put("general.name", GgufValue.ofString("tiny-llama-code"));
        want.put("llama.block_count", GgufValue.ofUint32(6));
        want.put("llama.context_length", GgufValue.ofUint32(2048));
        want.put("llama.embedding_length", GgufValue.ofUint32(512));
        want.put("llama.feed_forward_length", GgufValue.ofUint32(1536));
        want.put("llama.attention.head_count", GgufValue.ofUint32(8));
        want.put("llama.attention.head_count_kv", GgufValue.ofUint32(4));
        want.put("llama.rope.freq_base", GgufValue.ofFloat32(10000f));
        want.put("llama.attention.layer_norm_rms_epsilon", GgufValue.ofFloat32(1e-5f));
        want.put("llama.attention.key_length", GgufValue.ofUint32(64));
        want.put("llama.attention.value_length", GgufValue.ofUint32(64));
        want.put("general.file_type", GgufValue.ofUint32(15));
        want.put("llama.vocab_size", GgufValue.ofUint32(8192));
        want.put("llama.rope.dimension_count", GgufValue.ofUint32(64));
        want.put("general.quantization_version", GgufValue.ofUint32(2));
        assertEquals(List.copyOf(want.entrySet()), List.copyOf(kv.entrySet()));
        // the wire types llama.cpp insists on
        assertEquals(GgufValueType.UINT32, kv.get("general.file_type").type());
        assertEquals(GgufValueType.FLOAT32, kv.get("llama.rope.freq_base").type());
        assertEquals(GgufValueType.FLOAT32, kv.get("llama.attention.layer_norm_rms_epsilon").type());
        assertNull(hp.ropeFreqs());
        assertEquals(new QuantMix.ModelInfo("llama", 6, 8, 4, 0), hp.mixInfo());
    }

    static Path config(Path dir, String json) throws Exception {
        Files.writeString(dir.resolve("config.json"), json);
        return dir;
    }

    @Test
    void ropeThetaTopLevelQwenAndRejections(@TempDir Path dir) throws Exception {
        config(dir, """
                {"architectures":["Qwen2ForCausalLM"],"hidden_size":896,"num_attention_heads":14,"num_key_value_heads":2,
                 "num_hidden_layers":24,"intermediate_size":4864,"vocab_size":151936,"rope_theta":1000000.0,
                 "rms_norm_eps":1e-6,"max_position_embeddings":32768,"tie_word_embeddings":true}""");
        ModelHyperparameters hp = ModelHyperparameters.fromHuggingFace(dir);
        SequencedMap<String, GgufValue> kv = hp.toKvs(LlamaFtype.Q8_0);
        assertEquals(GgufValue.ofString("qwen2"), kv.get("general.architecture"));
        assertEquals(GgufValue.ofFloat32(1e6f), kv.get("qwen2.rope.freq_base"));
        assertEquals(GgufValue.ofUint32(7), kv.get("general.file_type"));
        assertFalse(kv.containsKey("qwen2.rope.dimension_count"), "only the llama converter writes it");
        assertFalse(kv.containsKey("qwen2.attention.key_length"), "no head_dim in config.json");
        assertTrue(hp.tiedEmbeddings());

        config(dir, """
                {"architectures":["GPT2LMHeadModel"],"hidden_size":8}""");
        BadInputException e = assertThrows(BadInputException.class, () -> ModelHyperparameters.fromHuggingFace(dir));
        assertTrue(e.getMessage().contains("GPT2LMHeadModel"));
        config(dir, """
                {"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_attention_heads":4,"num_hidden_layers":2,
                 "intermediate_size":128,"vocab_size":100,"rope_scaling":{"rope_type":"yarn","factor":4.0}}""");
        e = assertThrows(BadInputException.class, () -> ModelHyperparameters.fromHuggingFace(dir));
        assertTrue(e.getMessage().contains("yarn"));
        config(dir, """
                {"architectures":["LlamaForCausalLM"],"num_attention_heads":4}""");
        assertThrows(BadInputException.class, () -> ModelHyperparameters.fromHuggingFace(dir));
    }

    @Test
    void llama3RopeFreqs(@TempDir Path dir) throws Exception {
        // Llama-3.1-8B's settings
        config(dir, """
                {"architectures":["LlamaForCausalLM"],"hidden_size":4096,"num_attention_heads":32,"num_key_value_heads":8,
                 "num_hidden_layers":32,"intermediate_size":14336,"vocab_size":128256,"rope_theta":500000.0,
                 "rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
                                 "original_max_position_embeddings":8192,"rope_type":"llama3"}}""");
        ModelHyperparameters hp = ModelHyperparameters.fromHuggingFace(dir);
        float[] f = hp.ropeFreqs();
        assertEquals(64, f.length);
        // wavelength 2π·500000^(2i/128): below 8192/4 = 2048 → 1, above 8192 → 8, smooth in between
        for (int i = 0; i < 64; i++) {
            double wl = 2 * Math.PI * Math.pow(500000, 2.0 * i / 128);
            if (wl < 2048) assertEquals(1f, f[i], "i=" + i);
            else if (wl > 8192) assertEquals(8f, f[i], "i=" + i);
            else {
                double s = (8192 / wl - 1) / 3;
                assertEquals(1 / ((1 - s) / 8 + s), f[i], 1e-5, "i=" + i);
            }
            if (i > 0) assertTrue(f[i] >= f[i - 1]);
        }
        assertEquals(1f, f[0]);
        assertEquals(8f, f[63]);
        assertFalse(hp.toKvs(LlamaFtype.Q4_K_M).containsKey("llama.rope.scaling.type"), "llama3 scaling is the tensor, not keys");

        config(dir, """
                {"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_attention_heads":4,"num_hidden_layers":2,
                 "intermediate_size":128,"vocab_size":100,"rope_scaling":{"type":"linear","factor":2.0}}""");
        SequencedMap<String, GgufValue> kv = ModelHyperparameters.fromHuggingFace(dir).toKvs(LlamaFtype.F16);
        assertEquals(GgufValue.ofString("linear"), kv.get("llama.rope.scaling.type"));
        assertEquals(GgufValue.ofFloat32(2f), kv.get("llama.rope.scaling.factor"));
        assertEquals(GgufValue.ofUint32(16), kv.get("llama.rope.dimension_count"), "hidden / heads without head_dim");
    }

    @Test
    void u32RangeIsChecked() {
        assertThrows(IllegalArgumentException.class, () -> GgufValue.ofUint32(-1));
        assertThrows(IllegalArgumentException.class, () -> GgufValue.ofUint32(1L << 32));
        assertEquals(0xFFFF_FFFFL, GgufValue.ofUint32(0xFFFF_FFFFL).asLong());
    }
}
