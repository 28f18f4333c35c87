package dev.lowbit.ptq.transform;

import java.util.Set;

/**
 * A function-preserving (or loss-reducing) rewrite of a model's fp weights before quantization: AWQ scaling,
 * SmoothQuant, Hadamard rotation. A transform may rewrite any tensor of a decoder layer and of the model (norms,
 * embeddings, lm_head, the layer's earlier Linears); it never opens files and never runs a model: it reads statistics
 * and scores candidates through {@link LayerLoss}, which the pipeline implements by running the block.
 *
 * <p>How the pipeline runs the transforms of a recipe (in recipe order, then the one quantizer):
 * <pre>
 *   globals = embedding, final norm, lm_head (f32)
 *   for t in transforms: t.transformModel(model)               ← whole-model part (rotation: embedding, lm_head)
 *   for layer i = 0 .. L−1:                                     (inputs: layer i's calibration inputs, produced by
 *     tensors = layer i's tensors (f32)                           the transformed and quantized layers 0..i−1)
 *     statistics = what the transforms asked for, on layer i as loaded
 *     for t in transforms: t.transformLayer(layer)              ← per-layer part (AWQ, SmoothQuant, rotation's R1/R2)
 *     quantizer: layer i's Linears from the edited tensors; the edited layer (quantized) produces layer i+1's inputs
 *                (layer i in fp, from the statistics pass, when every transform allows {@link #fullPrecisionInputs()}
 *                and the quantizer observes nothing)
 *     write: quantized Linears + every changed tensor of the layer
 *   write: changed globals
 * </pre>
 * Unchanged tensors are copied from the source as they are; changed ones are written in f32 (safetensors targets) or in
 * the type the target plans for them (GGUF).
 *
 * <p>To implement one:
 * <ul>
 *   <li>Return the statistics you need from {@link #statistics()} (empty when data-free). Asking for statistics or
 *       using {@link LayerContext#loss()} makes the recipe need calibration data (the step's {@link #needsCalibration()}).</li>
 *   <li>Per-layer transforms (AWQ, SmoothQuant) override {@link #transformLayer}: for each balance mapping of
 *       {@link LayerContext#architecture()} ({@code from} norm/Linear → {@code to} Linears), divide {@code from}'s
 *       output channels and multiply the {@code to} Linears' input columns by the same scales, editing
 *       {@link LayerContext#tensors()} in place ({@link TensorSet#edit}).</li>
 *   <li>Whole-model transforms (rotation) override {@link #transformModel} for the embedding / lm_head / final norm and
 *       {@link #transformLayer} for every layer's norms and Linears; the state shared between the two (a rotation
 *       matrix drawn from {@link ModelContext#seed()}) lives in the transform object, which serves one run.</li>
 *   <li>Do not keep references to a layer's arrays after {@code transformLayer} returns; the layer is written and
 *       released right after.</li>
 * </ul>
 */
public interface WeightTransform {
    /** The step name, for messages and the manifest. */
    String name();

    /** Statistics to accumulate for each Linear input of every layer before {@link #transformLayer}; empty = none. */
    default Set<Statistic> statistics() {
        return Set.of();
    }

    /** Whether {@link #transformLayer} calls {@link LayerContext#loss()} (the pipeline then keeps the fp layer outputs). */
    default boolean usesLoss() {
        return false;
    }

    /**
     * How many calibration tokens {@link LayerLoss#blockLoss} samples for this transform (whole windows, evenly spaced;
     * 0 = every captured window). The pipeline samples the largest any transform of the recipe asks for.
     */
    default int lossTokens() {
        return 0;
    }

    /**
     * The group width of the {@link Statistic#GROUP_GRAM} statistic (≤ 0: one block, the whole Σ x·xᵀ); every
     * transform of a recipe that asks for it must ask for the same width.
     */
    default int gramGroup() {
        return 0;
    }

    /**
     * How many calibration tokens the {@link Statistic#HESSIAN} (and {@link Statistic#GROUP_GRAM}) statistic is accumulated over (whole capture batches,
     * evenly spaced; 0 = every batch). The Gram matrices are the statistics pass's dearest part (an in×in product per
     * batch, 1536² at tiny-llama-code's down_proj); a transform that only needs them for a per-group search (AWQ's clip
     * search samples 512 tokens in the references) can take fewer. The pipeline uses the largest any transform asks for.
     */
    default int hessianTokens() {
        return 0;
    }

    /**
     * Whether the next layer may be calibrated on this layer's full-precision outputs, as llm-awq and AutoAWQ do
     * (they never feed quantized outputs forward), when the quantizer itself observes nothing (RTN): the statistics
     * pass then runs the whole layer before the transform and its outputs become the next layer's inputs, so the layer
     * is not run a second time. Every transform of the recipe must allow it (they are function-preserving, so the
     * transformed fp layer gives the same outputs); a quantizer that observes its inputs (GPTQ's Hessians) keeps the
     * quantized outputs.
     */
    default boolean fullPrecisionInputs() {
        return false;
    }

    /**
     * What this run chose per balance mapping, for the report and the manifest (SmoothQuant's searched α, AWQ's α;
     * null where the identity won), keyed by {@code model.layers.N.producer -> Linears}; empty when nothing was searched.
     * Read after the last layer.
     */
    default java.util.Map<String, Double> chosen() {
        return java.util.Map.of();
    }

    /** Whether this transform needs calibration data: it asks for statistics or scores candidates. */
    default boolean needsCalibration() {
        return !statistics().isEmpty() || usesLoss();
    }

    /** Once, before the first layer. */
    default void transformModel(ModelContext model) {}

    /** Once per decoder layer, in layer order. */
    default void transformLayer(LayerContext layer) {}
}
