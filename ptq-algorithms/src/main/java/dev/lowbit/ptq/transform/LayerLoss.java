package dev.lowbit.ptq.transform;

import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.quant.ActivationScheme;
import java.util.Map;

/**
 * Scores candidate weights of one decoder layer by running (part of) the layer, so that algorithms never run models
 * themselves. The pipeline implements it on calibration's runner.
 */
public interface LayerLoss {
    /**
     * The part of the layer a balance mapping is scored on (AutoAWQ's "inspect module"): the attention sub-block
     * (input norm, q/k/v, RoPE, attention, o_proj: its o_proj output, before the residual add), the MLP (post-attention
     * norm, gate/up, SiLU, down_proj: its down_proj output), or down_proj alone on its own input.
     */
    enum Block { ATTENTION, MLP, DOWN }

    /**
     * The whole layer, slow: it substitutes every tensor of {@code candidate} for the layer's (Linear weights and
     * biases, norms; tensors the candidate lacks keep their current values), runs the layer on every calibration input
     * captured for it, and returns the mean squared difference from the output of the layer as it was before any
     * transform of this layer ran, over every token and hidden channel:
     * <pre>
     *   loss = 1/(N·D) · Σ_tokens Σ_d (block(candidate, x) − block(original, x))²
     * </pre>
     * Each call costs one forward of the layer over every calibration window; the layer itself is left as it was.
     *
     * @param candidate    the layer's tensors as the transform proposes them (a {@link TensorSet#copy()} edited)
     * @param fakeQuantize quantize-dequantize every Linear weight the recipe's quantizer will quantize onto that
     *                     module's target grid (its scheme, or its GGUF type) by round-to-nearest before running
     */
    double loss(TensorSet candidate, boolean fakeQuantize);

    /**
     * The cheap loss AWQ's scale search uses: {@code block} run on a fixed sample of the layer's calibration inputs
     * with the layer's current tensors ({@link LayerContext#tensors()}) except the Linear weights in {@code weights},
     * against the same block with the current tensors alone:
     * <pre>
     *   loss = 1/(N·D) · Σ_sampled tokens Σ_d (block(current with weights, x) − block(current, x))²
     * </pre>
     * The reference output is computed once per state of the block's current tensors. The sample is the first
     * {@link WeightTransform#lossTokens()} tokens' worth of whole windows, evenly spaced over the captured windows.
     *
     * @param weights replacement weights {@code [rows, cols]} for Linears of the block, in the current tensors' input
     *                space (AWQ: Q(W·diag(s))·diag(s)⁻¹ of the current W); other Linears stay in fp
     */
    double blockLoss(Block block, Map<TensorRole, float[]> weights);

    /**
     * {@link #blockLoss(Block, Map)} with the replacement weights made one at a time, in the order of {@code linears},
     * by {@code weights}: an implementation may take each into the engine before it asks for the next, so that only one
     * candidate Linear is on the heap at once (AWQ's gate,up candidates at the 7B shape: 180 MB instead of 360 MB).
     * The same loss as the map form given the same weights.
     */
    default double blockLoss(Block block, java.util.List<TensorRole> linears, java.util.function.Function<TensorRole, float[]> weights) {
        Map<TensorRole, float[]> m = new java.util.EnumMap<>(TensorRole.class);
        for (TensorRole r : linears) m.put(r, weights.apply(r));
        return blockLoss(block, m);
    }

    /**
     * Activation quantization of one Linear input of a block, in the current tensors' input space x, for a candidate
     * per-channel scale s that a transform would fold into the producer (x' = x ÷ s) and the readers' columns: the
     * readers see {@code Q_a(x ÷ s)·s}, which is what they compute on after the fold with their input quantized.
     * <pre>
     *   Q_a(v) = clamp(round(v / σ), −qmax − 1, qmax)·σ      ({@link ActivationScheme}; FP8 rounds to E4M3 instead)
     *   σ = max_j |v_tj| / qmax per token (dynamic TOKEN) · max |v| / qmax over the input (dynamic TENSOR)
     *     · absMax / ((2^bits − 1) / 2) for a static int TENSOR scheme (the {@code input_scale} the W8A8 writer stores,
     *       absMax = max |x ÷ s| over the calibration tokens), absMax / qmax for static FP8
     * </pre>
     *
     * @param reader  a Linear reading the input (q_proj for q,k,v; gate_proj or up_proj for gate,up; down_proj)
     * @param divisor s, one per input channel (all ones: the input as it is)
     * @param absMax  max |x ÷ s| over the calibration tokens (static schemes; ignored by dynamic ones)
     */
    record InputQuantization(TensorRole reader, float[] divisor, ActivationScheme scheme, double absMax) {
        public InputQuantization {
            java.util.Objects.requireNonNull(scheme, "scheme");
            if (!scheme.dynamic() && !(absMax > 0 && Double.isFinite(absMax))) {
                throw new IllegalArgumentException("static activation scale needs a positive finite max |x|, got " + absMax);
            }
        }

        /** The static per-tensor scale σ (see the class comment). */
        public double staticScale() {
            return scheme.type() == ActivationScheme.Type.INT ? absMax / (((1 << scheme.bits()) - 1) / 2.0) : absMax / scheme.qmax();
        }
    }

    /**
     * {@link #blockLoss(Block, Map)} with the input {@code input} describes quantized as it describes (the other
     * Linear inputs of the block stay in fp): the score of a smoothing candidate under a W8A8 / W4A8 target. The reference
     * is the same fp block as there (no quantization anywhere).
     */
    double blockLoss(Block block, Map<TensorRole, float[]> weights, InputQuantization input);

    /**
     * Quantize-dequantize of this layer's Linear {@code linear} weight {@code [rows, cols]} onto the grid the recipe's
     * quantizer will use for it (its scheme by round-to-nearest, or its GGUF type's own search): a new array;
     * {@code w} itself when the quantizer leaves that Linear alone.
     */
    float[] fakeQuantize(TensorRole linear, float[] w);

    /**
     * {@link #fakeQuantize} that may write the result over {@code w} (the caller's own scratch copy) instead of
     * allocating a second array: returns the result, {@code w} itself or a new array; the same values either way.
     */
    default float[] fakeQuantizeInPlace(TensorRole linear, float[] w) {
        return fakeQuantize(linear, w);
    }
}
