package dev.lowbit.ptq.transform;

import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;

/**
 * One decoder layer as a {@link WeightTransform} sees it, after every earlier layer was transformed and quantized.
 */
public interface LayerContext {
    /** The decoder layer index. */
    int layer();

    /** The model family: its Linears, norms and {@link ModelArchitecture#balances()} (norm/Linear → Linears it feeds). */
    ModelArchitecture architecture();

    /**
     * The Hugging Face name of this layer's tensor of {@code role} ({@code model.layers.N.self_attn.q_proj.weight}),
     * or its bias with {@code bias = true}; use it with {@link #tensors()}.
     */
    default String name(TensorRole role, boolean bias) {
        return new ModelArchitecture.Slot(role, layer(), bias ? "bias" : "weight").hfName();
    }

    /**
     * Every tensor of this layer (Linear weights, biases where the checkpoint has them, norms) as f32, to edit. The
     * pipeline quantizes the Linears from this set after the last transform and writes every changed tensor.
     */
    TensorSet tensors();

    /**
     * The statistics asked for in {@link WeightTransform#statistics()} of the input of Linear {@code linear} (any of the
     * Linears that share an input gives the same object), measured on this layer as it stood before the first transform
     * of the layer; {@code null} fields for statistics not asked for. Throws when no transform asked for statistics.
     */
    ChannelStatistics statistics(TensorRole linear);

    /**
     * Whether this step's {@code targets}/{@code ignore} select this layer's Linear {@code linear} (module name without
     * {@code .weight}); a transform leaves unselected Linears (and balances into them) alone.
     */
    boolean selected(TensorRole linear);

    /** The block-output loss of a candidate; throws when the recipe has no calibration data. */
    LayerLoss loss();

    /** The model's global tensors (embedding, final norm, lm_head), as {@link ModelContext#globals()}. */
    TensorSet globals();
}
