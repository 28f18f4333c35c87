package dev.lowbit.calib.model;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * One decoder family's tensor names and structural flags, derived from the architecture table
 * ({@link ModelArchitecture}); the forward pass
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

    /** The table entry's role for each Linear of the forward. */
    public static TensorRole role(Linear l) {
        return switch (l) {
            case Q -> TensorRole.Q;
            case K -> TensorRole.K;
            case V -> TensorRole.V;
            case O -> TensorRole.O;
            case GATE -> TensorRole.GATE;
            case UP -> TensorRole.UP;
            case DOWN -> TensorRole.DOWN;
        };
    }

    /** The forward's view of one entry of the architecture table, for the Hugging Face class {@code hfClass}. */
    static Architecture of(String hfClass, ModelArchitecture a) {
        Map<Linear, String> linears = new EnumMap<>(Linear.class);
        for (Linear l : Linear.values()) linears.put(l, role(l).hfModule());
        QkNorm qk = a.roles().contains(TensorRole.Q_NORM)
                ? new QkNorm(TensorRole.Q_NORM.hfModule() + ".weight", TensorRole.K_NORM.hfModule() + ".weight") : null;
        return new Architecture(hfClass, TensorRole.EMBED.hfModule() + ".weight", TensorRole.FINAL_NORM.hfModule() + ".weight",
                TensorRole.LM_HEAD.hfModule() + ".weight", "model.layers.%d.", Map.copyOf(linears),
                TensorRole.INPUT_NORM.hfModule() + ".weight", TensorRole.POST_ATTENTION_NORM.hfModule() + ".weight",
                qk, a.tiedByDefault());
    }

    /** Supported architectures: every Hugging Face class of {@link ModelArchitecture#ALL}. Mistral's sliding window is
     * wider than any window we evaluate, so it is not modelled. */
    public static final List<Architecture> ALL = ModelArchitecture.ALL.stream()
            .flatMap(a -> a.hfClasses().stream().map(c -> of(c, a))).toList();

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
