package dev.lowbit.io.export;

import dev.lowbit.io.ggml.GgmlType;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Chooses the ggml type of every tensor for a llama.cpp quantization mix, as llama.cpp's {@code llama-quant.cpp}
 * does ({@code tensor_allows_quantization}, {@code llama_tensor_get_type}, {@code llama_tensor_get_type_impl},
 * {@code tensor_type_fallback}), so a lowbit GGUF has the same layout as {@code llama-quantize}'s.
 *
 * <p>The rules, for the mixes in {@link LlamaFtype} (i = layer index, n = layer count,
 * {@code more(i) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2}, gqa = heads / kv heads):
 * <ul>
 *   <li>1-D tensors, names not ending in {@code weight}, {@code *_norm.weight}, {@code ffn_gate_inp}, position and
 *       token-type embeddings are never quantized: they keep their source type (F32).</li>
 *   <li>Non-quantized mixes (F32, F16, BF16): every other tensor takes the mix's type.</li>
 *   <li>{@code output.weight} (and {@code token_embd.weight} when there is no {@code output.weight}): MXFP4_MOE → Q8_0;
 *       row not a multiple of the mix type's block → Q8_0; otherwise Q6_K unless the mix type is Q8_0.</li>
 *   <li>MXFP4_MOE: 3-D (expert) tensors MXFP4, the rest Q8_0.</li>
 *   <li>{@code token_embd.weight} (untied): TQ1_0, TQ2_0, Q2_0 → Q4_K; otherwise the mix type.</li>
 *   <li>{@code attn_v} (counted in file order): Q2_K → gqa ≥ 4 ? Q4_K : Q3_K; Q3_K_M → first two Q5_K, rest Q4_K;
 *       Q3_K_L → Q5_K; IQ4_NL with gqa ≥ 4 → Q5_K; Q4_K_M, Q5_K_M → Q6_K where more(i); Q4_K_S → Q5_K for the first
 *       four; then Llama-70B (80 layers, GQA) bumps Q3_K/Q4_K to Q5_K, and 8 experts force Q8_0.</li>
 *   <li>{@code attn_k}: 8 experts → Q8_0.</li>
 *   <li>{@code ffn_down}: Q2_K → Q3_K; Q3_K_M → i < n/16 ? Q5_K : Q4_K; Q3_K_L → Q5_K; Q4_K_M → Q6_K where more(i);
 *       IQ4_NL without imatrix → Q5_K for i < n/8; Q5_K_M → Q6_K where more(i); Q4_K_S → Q5_K for i < n/8;
 *       Q4_0/Q5_0 with an imatrix → Q4_1/Q5_1 for i < n/8.</li>
 *   <li>{@code attn_output}: Q2_K → Q3_K, Q3_K_M → Q4_K, Q3_K_L → Q5_K (with 8 experts: Q5_K for the Q2_K, Q3_K_S,
 *       Q3_K_M, IQ4_NL, Q4_K_S, Q4_K_M mixes).</li>
 *   <li>{@code attn_qkv}: Q3_K_M, Q3_K_L → Q4_K; Q4_K_M → Q5_K; Q5_K_M → Q6_K.</li>
 *   <li>{@code --tensor-type REGEX=TYPE}: the first pattern found in the name wins and skips the rules above
 *       (the rule counters then do not advance for that tensor, as in llama.cpp); {@code --pure} skips the rules for
 *       every tensor; {@code --output-tensor-type} / {@code --token-embedding-type} win over everything.</li>
 *   <li>Fallback when the row length is not a multiple of the chosen type's block: Q2_0, Q2_K, Q3_K, TQ1_0, TQ2_0 → Q4_0;
 *       Q4_K → Q5_0; Q5_K → Q5_1; Q6_K → Q8_0; IQ (256-block) → IQ4_NL; and F16 if that still does not fit.
 *       Types with no fallback (Q8_0, Q4_0, MXFP4 …) are left as chosen and reported by {@link ExportPlan#misfits()}
 *       (llama.cpp aborts there).</li>
 * </ul>
 * The Falcon-specific branches are not modelled: lowbit exports only llama, qwen2 and qwen3.
 *
 * <p>Version note: this follows current llama.cpp. Builds from early 2025 (e.g. c392e50, 2025-02-20) fell back
 * Q2_K/Q3_K to IQ4_NL instead of Q4_0, applied no fallback under {@code --pure}, and had no {@code --tensor-type};
 * the mix rules themselves are unchanged between the two, and for models whose rows are multiples of 256 (such as
 * tiny-llama-code) both give the same plan.
 */
public final class QuantMix {

    /** What the rules need to know about the model. */
    public record ModelInfo(String arch, int nLayer, int nHead, int nHeadKv, int nExpert) {
        /** Heads per kv head ({@code n_gqa}); 0 when there are no kv heads. */
        public int nGqa() {
            return nHeadKv == 0 ? 0 : nHead / nHeadKv;
        }

        /** llama.cpp's {@code LLM_TYPE_70B} test for llama: 80 layers with grouped-query attention. */
        boolean isLlama70B() {
            return arch.equals("llama") && nLayer == 80 && nHead != nHeadKv;
        }
    }

    /** One {@code --tensor-type REGEX=TYPE} override; the regex is searched in the name (not matched whole). */
    public record TypeOverride(Pattern pattern, GgmlType type) {
        /** Parses {@code REGEX=TYPE} as llama-quantize's {@code --tensor-type} does (type name case-insensitive). */
        public static TypeOverride parse(String spec) {
            int eq = spec.lastIndexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) throw new IllegalArgumentException("--tensor-type expects REGEX=TYPE, got '" + spec + "'");
            GgmlType type;
            try {
                type = GgmlType.valueOf(spec.substring(eq + 1).strip().toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--tensor-type: unknown ggml type '" + spec.substring(eq + 1) + "'");
            }
            return new TypeOverride(Pattern.compile(spec.substring(0, eq)), type);
        }
    }

    /**
     * The knobs of {@code llama-quantize}. {@code outputType}/{@code tokenEmbeddingType} are {@code null} when unset;
     * {@code fallback=false} keeps the mix's choice for misfit rows so that {@link ExportPlan#requireBlockFit} reports
     * them instead of silently changing the type.
     */
    public record Options(LlamaFtype ftype, boolean pure, boolean hasImatrix, List<TypeOverride> overrides,
                          GgmlType outputType, GgmlType tokenEmbeddingType, boolean quantizeOutput, boolean fallback) {
        public Options {
            overrides = List.copyOf(overrides);
        }

        /** llama-quantize's defaults for this mix. */
        public static Options of(LlamaFtype ftype) {
            return new Options(ftype, false, false, List.of(), null, null, true, true);
        }

        public Options withPure(boolean p) {
            return new Options(ftype, p, hasImatrix, overrides, outputType, tokenEmbeddingType, quantizeOutput, fallback);
        }

        public Options withImatrix(boolean m) {
            return new Options(ftype, pure, m, overrides, outputType, tokenEmbeddingType, quantizeOutput, fallback);
        }

        public Options withOverrides(List<TypeOverride> o) {
            return new Options(ftype, pure, hasImatrix, o, outputType, tokenEmbeddingType, quantizeOutput, fallback);
        }

        public Options withOutputType(GgmlType t) {
            return new Options(ftype, pure, hasImatrix, overrides, t, tokenEmbeddingType, quantizeOutput, fallback);
        }

        public Options withTokenEmbeddingType(GgmlType t) {
            return new Options(ftype, pure, hasImatrix, overrides, outputType, t, quantizeOutput, fallback);
        }

        /** {@code --leave-output-tensor} is {@code withQuantizeOutput(false)}. */
        public Options withQuantizeOutput(boolean q) {
            return new Options(ftype, pure, hasImatrix, overrides, outputType, tokenEmbeddingType, q, fallback);
        }

        public Options withFallback(boolean f) {
            return new Options(ftype, pure, hasImatrix, overrides, outputType, tokenEmbeddingType, quantizeOutput, f);
        }
    }

    /** Broad tensor roles, as llama.cpp's {@code tensor_category}. */
    enum Category { TOKEN_EMBD, ATTENTION_Q, ATTENTION_V, ATTENTION_K, ATTENTION_QKV, ATTENTION_KV_B, ATTENTION_OUTPUT,
        FFN_UP, FFN_GATE, FFN_DOWN, OUTPUT, OTHER }

    /** Name substrings that are never quantized, beside 1-D tensors and norms (llama.cpp's list, model-relevant part). */
    private static final List<String> NEVER_QUANTIZED = List.of("ffn_gate_inp.weight", "ffn_gate_tid2eid.weight",
            "altup", "laurel", "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "attn_rel_b.weight",
            ".position_embd", ".rel_pos", ".patch_embd", ".patch_merger");

    /** Whole names that are never quantized (positional and token-type embeddings). */
    private static final List<String> NEVER_QUANTIZED_NAMES = List.of("position_embd.weight", "token_types.weight");

    private static final Pattern BLOCK = Pattern.compile("^blk\\.(\\d+)\\.");

    /** llama.cpp's {@code weight_name_comparer}: tensors outside layers (-1) first, then by layer, then by name. */
    public static final Comparator<String> LLAMA_CPP_ORDER =
            Comparator.<String>comparingInt(QuantMix::layerOf).thenComparing(Comparator.naturalOrder());

    private final ModelInfo model;
    private final Options options;

    // quantize_state_impl counters
    private int nAttentionWv;
    private int iAttentionWv;
    private int iFfnDown;
    private int iFfnGate;
    private int iFfnUp;
    private boolean hasTiedEmbeddings;

    private QuantMix(ModelInfo model, Options options) {
        this.model = model;
        this.options = options;
    }

    /** Plans every tensor's type; the result is in llama.cpp's tensor order. */
    public static ExportPlan plan(ModelInfo model, Options options, List<TensorSpec> tensors) {
        return new QuantMix(model, options).run(tensors);
    }

    /** Plans with llama-quantize's default options for {@code ftype}. */
    public static ExportPlan plan(ModelInfo model, LlamaFtype ftype, List<TensorSpec> tensors) {
        return plan(model, Options.of(ftype), tensors);
    }

    private ExportPlan run(List<TensorSpec> input) {
        List<TensorSpec> tensors = new ArrayList<>(input);
        tensors.sort(Comparator.comparing(TensorSpec::name, LLAMA_CPP_ORDER));
        hasTiedEmbeddings = true;
        for (TensorSpec t : tensors) {
            Category c = category(t.name());
            if (isAttnV(c)) nAttentionWv++;
            if (c == Category.OUTPUT) hasTiedEmbeddings = false;
        }
        List<PlannedTensor> out = new ArrayList<>(tensors.size());
        for (TensorSpec t : tensors) out.add(typeOf(t));
        return new ExportPlan(options.ftype(), out);
    }

    private PlannedTensor typeOf(TensorSpec t) {
        Category cat = category(t.name());
        if (!allowsQuantization(t)) return new PlannedTensor(t.name(), t.dims(), t.sourceType(), null);
        if (options.tokenEmbeddingType() != null && cat == Category.TOKEN_EMBD) {
            return new PlannedTensor(t.name(), t.dims(), options.tokenEmbeddingType(), null);
        }
        if (options.outputType() != null && cat == Category.OUTPUT) {
            return new PlannedTensor(t.name(), t.dims(), options.outputType(), null);
        }
        GgmlType type = options.ftype().defaultType();
        if (!type.isQuantized()) return new PlannedTensor(t.name(), t.dims(), type, null);

        boolean manual = false;
        for (TypeOverride o : options.overrides()) {
            if (o.pattern().matcher(t.name()).find()) {
                type = o.type();
                manual = true;
                break;
            }
        }
        if (!manual && !options.pure()) type = mixRule(t, cat, type);
        if (!options.fallback() || t.rowLength() % type.blockSize() == 0) {
            return new PlannedTensor(t.name(), t.dims(), type, null);
        }
        GgmlType fb = fallbackFor(type);
        if (fb == null) return new PlannedTensor(t.name(), t.dims(), type, null); // reported by misfits()
        if (t.rowLength() % fb.blockSize() != 0) fb = GgmlType.F16;
        return new PlannedTensor(t.name(), t.dims(), fb, type);
    }

    /** llama.cpp's {@code tensor_allows_quantization} (model-relevant part). */
    private boolean allowsQuantization(TensorSpec t) {
        if (t.nDims() < 2) return false;
        String name = t.name();
        if (!name.endsWith("weight")) return false;
        if (name.contains("_norm.weight")) return false;
        if (!options.quantizeOutput() && name.equals("output.weight")) return false;
        for (String s : NEVER_QUANTIZED) {
            if (name.contains(s)) return false;
        }
        return !NEVER_QUANTIZED_NAMES.contains(name);
    }

    /** {@code tensor_type_fallback}'s table; {@code null} where llama.cpp defines none. */
    static GgmlType fallbackFor(GgmlType type) {
        return switch (type) {
            case IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ4_XS -> GgmlType.IQ4_NL;
            case Q2_0, Q2_K, Q3_K, TQ1_0, TQ2_0 -> GgmlType.Q4_0;
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> null;
        };
    }

    private static boolean useMoreBits(int iLayer, int nLayers) {
        return iLayer < nLayers / 8 || iLayer >= 7 * nLayers / 8 || (iLayer - nLayers / 8) % 3 == 2;
    }

    /** {@code llama_tensor_get_type_impl} for the mixes in {@link LlamaFtype}. */
    private GgmlType mixRule(TensorSpec t, Category cat, GgmlType type) {
        LlamaFtype f = options.ftype();
        int gqa = model.nGqa();
        boolean eightExperts = model.nExpert() == 8;
        if (cat == Category.OUTPUT || (hasTiedEmbeddings && cat == Category.TOKEN_EMBD)) {
            if (options.outputType() != null) return options.outputType();
            if (f == LlamaFtype.MXFP4_MOE) return GgmlType.Q8_0;
            if (t.rowLength() % type.blockSize() != 0) return GgmlType.Q8_0;
            return type != GgmlType.Q8_0 ? GgmlType.Q6_K : type;
        }
        if (f == LlamaFtype.MXFP4_MOE) {
            return t.dims().length > 2 && t.dims()[2] > 1 ? GgmlType.MXFP4 : GgmlType.Q8_0;
        }
        switch (cat) {
            case TOKEN_EMBD -> {
                if (f == LlamaFtype.TQ1_0 || f == LlamaFtype.TQ2_0 || f == LlamaFtype.Q2_0) return GgmlType.Q4_K;
                return type;
            }
            case ATTENTION_V, ATTENTION_QKV, ATTENTION_KV_B -> {
                if (f == LlamaFtype.Q2_K) type = gqa >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
                else if (f == LlamaFtype.Q3_K_M) type = iAttentionWv < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
                else if (f == LlamaFtype.Q3_K_L) type = GgmlType.Q5_K;
                else if (f == LlamaFtype.IQ4_NL && gqa >= 4) type = GgmlType.Q5_K;
                else if ((f == LlamaFtype.Q4_K_M || f == LlamaFtype.Q5_K_M) && useMoreBits(iAttentionWv, nAttentionWv)) type = GgmlType.Q6_K;
                else if (f == LlamaFtype.Q4_K_S && iAttentionWv < 4) type = GgmlType.Q5_K;
                if (model.isLlama70B() && (type == GgmlType.Q3_K || type == GgmlType.Q4_K)) type = GgmlType.Q5_K;
                if (eightExperts) type = GgmlType.Q8_0;
                iAttentionWv++;
                return type;
            }
            case ATTENTION_K -> {
                return eightExperts ? GgmlType.Q8_0 : type;
            }
            case FFN_DOWN -> {
                int i = layerIndex(iFfnDown, t.name());
                int n = model.nLayer();
                if (f == LlamaFtype.Q2_K) type = GgmlType.Q3_K;
                else if (f == LlamaFtype.Q3_K_M) type = i < n / 16 ? GgmlType.Q5_K : GgmlType.Q4_K;
                else if (f == LlamaFtype.Q3_K_L) type = GgmlType.Q5_K;
                else if (f == LlamaFtype.Q4_K_M) { if (useMoreBits(i, n)) type = GgmlType.Q6_K; }
                else if (i < n / 8 && f == LlamaFtype.IQ4_NL && !options.hasImatrix()) type = GgmlType.Q5_K;
                else if (f == LlamaFtype.Q5_K_M && useMoreBits(i, n)) type = GgmlType.Q6_K;
                else if (f == LlamaFtype.Q4_K_S && i < n / 8) type = GgmlType.Q5_K;
                else if ((f == LlamaFtype.Q4_0 || f == LlamaFtype.Q5_0) && options.hasImatrix() && i < n / 8) {
                    type = f == LlamaFtype.Q4_0 ? GgmlType.Q4_1 : GgmlType.Q5_1;
                }
                iFfnDown++;
                return type;
            }
            case ATTENTION_OUTPUT -> {
                if (eightExperts) {
                    if (f == LlamaFtype.Q2_K || f == LlamaFtype.Q3_K_S || f == LlamaFtype.Q3_K_M || f == LlamaFtype.IQ4_NL
                            || f == LlamaFtype.Q4_K_S || f == LlamaFtype.Q4_K_M) return GgmlType.Q5_K;
                    return type;
                }
                if (f == LlamaFtype.Q2_K) return GgmlType.Q3_K;
                if (f == LlamaFtype.Q3_K_M) return GgmlType.Q4_K;
                if (f == LlamaFtype.Q3_K_L) return GgmlType.Q5_K;
                return type;
            }
            case FFN_GATE -> {
                iFfnGate++;
                return type;
            }
            case FFN_UP -> {
                iFfnUp++;
                return type;
            }
            default -> {
                return type;
            }
        }
    }

    /** The layer of a per-layer tensor: the running counter, or the name's block number with experts (as llama.cpp). */
    private int layerIndex(int counter, String name) {
        if (model.nExpert() <= 1) return counter;
        int layer = layerOf(name);
        if (layer < 0 || layer >= model.nLayer()) {
            throw new IllegalArgumentException("cannot determine a layer in [0, " + model.nLayer() + ") for tensor " + name);
        }
        return layer;
    }

    /** The N of {@code blk.N.}, or -1. */
    static int layerOf(String name) {
        Matcher m = BLOCK.matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static boolean isAttnV(Category c) {
        return c == Category.ATTENTION_V || c == Category.ATTENTION_QKV || c == Category.ATTENTION_KV_B;
    }

    /** llama.cpp's {@code tensor_get_category}: substring tests, in this order. */
    static Category category(String name) {
        if (name.equals("output.weight")) return Category.OUTPUT;
        if (name.equals("token_embd.weight") || name.equals("per_layer_token_embd.weight")) return Category.TOKEN_EMBD;
        if (name.contains("attn_qkv.weight")) return Category.ATTENTION_QKV;
        if (name.contains("attn_kv_b.weight")) return Category.ATTENTION_KV_B;
        if (name.contains("attn_v.weight")) return Category.ATTENTION_V;
        if (name.contains("attn_k.weight")) return Category.ATTENTION_K;
        if (name.contains("attn_q.weight")) return Category.ATTENTION_Q;
        if (name.contains("attn_output.weight")) return Category.ATTENTION_OUTPUT;
        if (name.contains("ffn_up")) return Category.FFN_UP;
        if (name.contains("ffn_gate")) return Category.FFN_GATE;
        if (name.contains("ffn_down")) return Category.FFN_DOWN;
        return Category.OTHER;
    }
}
