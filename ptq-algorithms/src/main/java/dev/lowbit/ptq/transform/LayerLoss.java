package dev.lowbit.ptq.transform;

/**
 * Scores candidate weights of one decoder layer by running the layer, so that algorithms never run models themselves.
 * The pipeline implements it (calibration's runner): it substitutes every tensor of {@code candidate} for the layer's
 * (Linear weights and biases, norms; tensors the candidate lacks keep their current values), runs the layer on the
 * calibration inputs captured for it, and returns the mean squared difference between that output and the output of
 * the layer as it was before any transform of this layer ran, over every token and hidden channel:
 * <pre>
 *   loss = 1/(N·D) · Σ_tokens Σ_d (block(candidate, x) − block(original, x))²
 * </pre>
 * Each call costs one forward of the layer over every calibration window; the layer itself is left as it was.
 */
@FunctionalInterface
public interface LayerLoss {
    /**
     * @param candidate   the layer's tensors as the transform proposes them (a {@link TensorSet#copy()} edited)
     * @param fakeQuantize quantize-dequantize every Linear weight the recipe's quantizer will quantize onto that
     *                     module's target grid (its scheme, or its GGUF type) by round-to-nearest before running, as
     *                     AWQ scores its scales
     */
    double loss(TensorSet candidate, boolean fakeQuantize);
}
