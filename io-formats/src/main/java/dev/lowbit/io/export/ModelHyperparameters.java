package dev.lowbit.io.export;

import dev.lowbit.io.gguf.GgufArray;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufValueType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.io.BadInputException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;

/**
 * The architecture hyperparameters of a Hugging Face {@code config.json}, and the GGUF keys llama.cpp's converter
 * writes for them ({@code Model.set_gguf_parameters}, {@code LlamaModel.set_gguf_parameters}).
 *
 * <p>Architectures: {@code LlamaForCausalLM} and {@code MistralForCausalLM} → {@code llama};
 * {@code Qwen2ForCausalLM} → {@code qwen2}; {@code Qwen3ForCausalLM} → {@code qwen3}. Keys are prefixed with the
 * GGUF architecture name. Types are exact: counts u32, {@code rope.freq_base} and {@code layer_norm_rms_epsilon}
 * f32. {@code rope_theta} is read from the top level or from transformers 5's {@code rope_parameters}.
 *
 * <p>Rope scaling: none/{@code default}; {@code linear} → {@code rope.scaling.type}/{@code rope.scaling.factor};
 * {@code llama3} → an F32 {@code rope_freqs.weight} tensor ({@link #ropeFreqs()}); anything else is rejected.
 */
public record ModelHyperparameters(String arch, String name, int blockCount, long contextLength, int embeddingLength,
                                   int feedForwardLength, int headCount, int headCountKv, int headDim,
                                   boolean headDimInConfig, float ropeFreqBase, float rmsNormEps, int vocabSize,
                                   boolean tiedEmbeddings, JsonNode ropeScaling) {

    private static final Map<String, String> ARCHITECTURES = Map.of(
            "LlamaForCausalLM", "llama",
            "MistralForCausalLM", "llama",
            "Qwen2ForCausalLM", "qwen2",
            "Qwen3ForCausalLM", "qwen3");

    /** Reads {@code config.json} of a model directory; {@code general.name} is the directory's name. */
    public static ModelHyperparameters fromHuggingFace(Path dir) {
        Path file = dir.resolve("config.json");
        JsonNode c;
        try {
            c = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new BadInputException(file.toString(), "cannot read: " + e.getMessage(), e);
        }
        String hfArch = c.path("architectures").path(0).asText("");
        String arch = ARCHITECTURES.get(hfArch);
        if (arch == null) {
            throw new BadInputException(file, "architecture '" + hfArch + "' cannot be exported to GGUF (supported: " + ARCHITECTURES.keySet() + ")");
        }
        int hidden = requireInt(file, c, "hidden_size");
        int heads = requireInt(file, c, "num_attention_heads");
        int kvHeads = c.path("num_key_value_heads").canConvertToInt() ? c.path("num_key_value_heads").asInt() : heads;
        boolean hdInConfig = c.path("head_dim").canConvertToInt();
        int headDim = hdInConfig ? c.path("head_dim").asInt() : hidden / heads;
        JsonNode rp = c.path("rope_parameters");
        double theta = c.path("rope_theta").isNumber() ? c.path("rope_theta").asDouble()
                : rp.path("rope_theta").isNumber() ? rp.path("rope_theta").asDouble() : 10000.0;
        JsonNode scaling = c.path("rope_scaling").isObject() ? c.path("rope_scaling") : rp.isObject() ? rp : null;
        String ropeType = scaling == null ? "default" : scaling.path("rope_type").asText(scaling.path("type").asText("default"));
        if (!ropeType.equals("default") && !ropeType.equals("linear") && !ropeType.equals("llama3")) {
            throw new BadInputException(file, "rope scaling type '" + ropeType + "' is not supported for GGUF export");
        }
        if (ropeType.equals("default")) scaling = null;
        return new ModelHyperparameters(arch, dir.toAbsolutePath().normalize().getFileName().toString(),
                requireInt(file, c, "num_hidden_layers"), c.path("max_position_embeddings").asLong(0), hidden,
                requireInt(file, c, "intermediate_size"), heads, kvHeads, headDim, hdInConfig, (float) theta,
                (float) c.path("rms_norm_eps").asDouble(1e-6), requireInt(file, c, "vocab_size"),
                c.path("tie_word_embeddings").asBoolean(false), scaling);
    }

    /** What {@link QuantMix} needs to know. */
    public QuantMix.ModelInfo mixInfo() {
        return new QuantMix.ModelInfo(arch, blockCount, headCount, headCountKv, 0);
    }

    /**
     * The {@code general.*} and architecture keys in the converter's order, with their GGUF types.
     *
     * @param ftype the mix written as {@code general.file_type}
     */
    public SequencedMap<String, GgufValue> toKvs(LlamaFtype ftype) {
        SequencedMap<String, GgufValue> kv = new LinkedHashMap<>();
        String a = arch + ".";
        kv.put("general.architecture", GgufValue.ofString(arch));
        kv.put("general.name", GgufValue.ofString(name));
        kv.put(a + "block_count", GgufValue.ofUint32(blockCount));
        if (contextLength > 0) kv.put(a + "context_length", GgufValue.ofUint32(contextLength));
        kv.put(a + "embedding_length", GgufValue.ofUint32(embeddingLength));
        kv.put(a + "feed_forward_length", GgufValue.ofUint32(feedForwardLength));
        kv.put(a + "attention.head_count", GgufValue.ofUint32(headCount));
        kv.put(a + "attention.head_count_kv", GgufValue.ofUint32(headCountKv));
        kv.put(a + "rope.freq_base", GgufValue.ofFloat32(ropeFreqBase));
        kv.put(a + "attention.layer_norm_rms_epsilon", GgufValue.ofFloat32(rmsNormEps));
        if (headDimInConfig) {
            kv.put(a + "attention.key_length", GgufValue.ofUint32(headDim));
            kv.put(a + "attention.value_length", GgufValue.ofUint32(headDim));
        }
        kv.put("general.file_type", GgufValue.ofUint32(ftype.id()));
        if (arch.equals("llama")) {
            kv.put(a + "vocab_size", GgufValue.ofUint32(vocabSize));
            kv.put(a + "rope.dimension_count", GgufValue.ofUint32(headDim));
            if (ropeScaling != null && ropeType().equals("linear")) {
                kv.put(a + "rope.scaling.type", GgufValue.ofString("linear"));
                kv.put(a + "rope.scaling.factor", GgufValue.ofFloat32((float) ropeScaling.path("factor").asDouble()));
            }
        }
        kv.put("general.quantization_version", GgufValue.ofUint32(2));
        return kv;
    }

    /** {@code default}, {@code linear} or {@code llama3}. */
    public String ropeType() {
        return ropeScaling == null ? "default" : ropeScaling.path("rope_type").asText(ropeScaling.path("type").asText("default"));
    }

    /**
     * The {@code rope_freqs.weight} factors (head_dim/2 of them) for Llama-3.1-style ({@code llama3}) rope scaling,
     * as {@code LlamaModel.generate_extra_tensors} computes them, or {@code null} for other rope types. With
     * freq_i = base^(−2i/hd) (in f32) and wavelength λ = 2π/freq: λ < L/high → 1; λ > L/low → factor; otherwise
     * 1 / ((1 − s)/factor + s), s = (L/λ − low)/(high − low), where L = original_max_position_embeddings
     * (default 8192), low/high the frequency factors (defaults 1 and 4), factor default 8.
     */
    public float[] ropeFreqs() {
        if (!ropeType().equals("llama3")) return null;
        double factor = ropeScaling.path("factor").asDouble(8.0);
        double low = ropeScaling.path("low_freq_factor").asDouble(1.0);
        double high = ropeScaling.path("high_freq_factor").asDouble(4.0);
        double oldCtx = ropeScaling.path("original_max_position_embeddings").asDouble(8192);
        double lowWavelen = oldCtx / low;
        double highWavelen = oldCtx / high;
        if (lowWavelen == highWavelen) throw new IllegalArgumentException("llama3 rope scaling with equal low and high frequency factors");
        float[] out = new float[headDim / 2];
        for (int i = 0; i < out.length; i++) {
            float freq = (float) (1.0 / (float) Math.pow(ropeFreqBase, (float) (2 * i) / headDim));
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highWavelen) out[i] = 1f;
            else if (wavelen > lowWavelen) out[i] = (float) factor;
            else {
                double smooth = (oldCtx / wavelen - low) / (high - low);
                out[i] = (float) (1 / ((1 - smooth) / factor + smooth));
            }
        }
        return out;
    }

    private static int requireInt(Path file, JsonNode c, String key) {
        JsonNode n = c.path(key);
        if (!n.canConvertToInt() || n.asInt() <= 0) throw new BadInputException(file, "missing or invalid '" + key + "'");
        return n.asInt();
    }
}
