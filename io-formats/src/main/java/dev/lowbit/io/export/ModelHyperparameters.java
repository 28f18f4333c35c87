package dev.lowbit.io.export;

import dev.lowbit.io.gguf.GgufArray;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufValueType;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.ModelDims;
import dev.lowbit.io.hf.HfConfig;
import dev.lowbit.io.hf.RopeScaling;

import java.nio.file.Path;
import java.util.LinkedHashMap;
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
                                   boolean tiedEmbeddings, RopeScaling ropeScaling) {

    /** Reads {@code config.json} of a model directory; {@code general.name} is the directory's name. */
    public static ModelHyperparameters fromHuggingFace(Path dir) {
        Path file = dir.resolve("config.json");
        String source = file.toString();
        HfConfig c = HfConfig.read(file, archs -> {
            if (archs.isEmpty()) throw new BadInputException(source, "no 'architectures' entry");
            exportable(archs.getFirst(), source);
        });
        ModelArchitecture arch = exportable(c.architectures().getFirst(), source);
        ModelDims d = ModelDims.of(c, source);
        RopeScaling scaling = c.ropeScaling();
        String ropeType = scaling.ropeType();
        if (!ropeType.equals("default") && !ropeType.equals("linear") && !ropeType.equals("llama3")) {
            throw new BadInputException(file, "rope scaling type '" + ropeType + "' is not supported for GGUF export");
        }
        return new ModelHyperparameters(arch.ggufName(), dir.toAbsolutePath().normalize().getFileName().toString(),
                d.layers(), c.raw().hasNonNull("max_position_embeddings") ? c.maxPositionEmbeddings() : 0, d.hidden(),
                d.intermediate(), d.heads(), d.kvHeads(), d.headDim(), c.raw().path("head_dim").canConvertToInt(),
                (float) c.ropeTheta(), (float) c.rmsNormEps(), d.vocab(), d.tied(), scaling.isDefault() ? null : scaling);
    }

    private static ModelArchitecture exportable(String hfClass, String source) {
        try {
            return ModelArchitecture.forHfClass(hfClass, source);
        } catch (BadInputException e) {
            throw new BadInputException(source, "architecture '" + hfClass + "' cannot be exported to GGUF (supported: "
                    + ModelArchitecture.ALL.stream().flatMap(a -> a.hfClasses().stream()).toList() + ")");
        }
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
                kv.put(a + "rope.scaling.factor", GgufValue.ofFloat32((float) ropeScaling.factor()));
            }
        }
        kv.put("general.quantization_version", GgufValue.ofUint32(2));
        return kv;
    }

    /** {@code default}, {@code linear} or {@code llama3}. */
    public String ropeType() {
        return ropeScaling == null ? "default" : ropeScaling.ropeType();
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
        double factor = or(ropeScaling.factor(), 8.0);
        double low = or(ropeScaling.lowFreqFactor(), 1.0);
        double high = or(ropeScaling.highFreqFactor(), 4.0);
        double oldCtx = ropeScaling.originalMaxPositionEmbeddings() > 0 ? ropeScaling.originalMaxPositionEmbeddings() : 8192;
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

    private static double or(double v, double dflt) {
        return Double.isNaN(v) ? dflt : v;
    }
}
