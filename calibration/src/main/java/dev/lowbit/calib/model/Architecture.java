package dev.lowbit.calib.model;

import dev.lowbit.io.BadInputException;
import java.util.List;
import java.util.Map;

/**
 * One decoder family's tensor names and structural flags: the table {@link #ALL} is data, the forward pass
 * ({@link LlamaRunner}) is shared. Names are templates with {@code %d} for the layer index.
 *
 * <p>Biases are not flags: a Linear has a bias exactly when the checkpoint holds {@code <linear>.bias}
 * (Qwen2's q/k/v, Llama with {@code attention_bias}, {@code mlp_bias}).
 *
 * @param name             the {@code architectures[0]} value in {@code config.json}
 * @param layerPrefix      prefix of decoder layer {@code i}'s tensors
 * @param linears          tensor name (without {@code .weight}) of each Linear inside a layer, by {@link Linear}
 * @param inputNorm        RMSNorm before attention
 * @param postAttentionNorm RMSNorm before the MLP
 * @param qkNorm           per-head RMSNorm on q and k before RoPE (Qwen3), names of their weights, or null
 * @param tiedByDefault    {@code tie_word_embeddings} when config.json does not say
 */
public record Architecture(String name, String embed, String finalNorm, String lmHead, String layerPrefix,
                           Map<Linear, String> linears, String inputNorm, String postAttentionNorm,
                           QkNorm qkNorm, boolean tiedByDefault) {

    /** Names of Qwen3's per-head q/k RMSNorm weights. */
    public record QkNorm(String q, String k) {}

    private static final Map<Linear, String> LLAMA_LINEARS = Map.of(
            Linear.Q, "self_attn.q_proj", Linear.K, "self_attn.k_proj", Linear.V, "self_attn.v_proj",
            Linear.O, "self_attn.o_proj", Linear.GATE, "mlp.gate_proj", Linear.UP, "mlp.up_proj",
            Linear.DOWN, "mlp.down_proj");

    private static Architecture llamaLike(String name, QkNorm qkNorm, boolean tied) {
        return new Architecture(name, "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
                "model.layers.%d.", LLAMA_LINEARS, "input_layernorm.weight", "post_attention_layernorm.weight",
                qkNorm, tied);
    }

    /** Supported architectures. Mistral's sliding window is wider than any window we evaluate, so it is not modelled. */
    public static final List<Architecture> ALL = List.of(
            llamaLike("LlamaForCausalLM", null, false),
            llamaLike("MistralForCausalLM", null, false),
            llamaLike("Qwen2ForCausalLM", null, false),
            llamaLike("Qwen3ForCausalLM", new QkNorm("self_attn.q_norm.weight", "self_attn.k_norm.weight"), false));

    public static Architecture named(String name, String source) {
        for (Architecture a : ALL) if (a.name.equals(name)) return a;
        throw new BadInputException(source, "unsupported architecture '" + name + "' (supported: "
                + String.join(", ", ALL.stream().map(Architecture::name).toList()) + ")");
    }

    /** Full tensor name (without {@code .weight}/{@code .bias}) of a Linear in layer {@code layer}. */
    public String linearName(int layer, Linear linear) {
        return layerPrefix.formatted(layer) + linears.get(linear);
    }

    /** Full name of a per-layer tensor such as {@link #inputNorm}. */
    public String layerTensor(int layer, String suffix) {
        return layerPrefix.formatted(layer) + suffix;
    }
}
