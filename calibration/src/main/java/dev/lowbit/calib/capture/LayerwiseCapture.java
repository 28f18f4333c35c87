package dev.lowbit.calib.capture;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.model.StagedLayer;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ObservingHook;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Drives calibration layer by layer with one layer boundary of activations in memory:
 * <pre>
 *   h = embed(windows)                                  (in batches)
 *   for layer i:
 *     step.beforeLayer(i, h, runner)                     ← e.g. weight transforms of layer i
 *     for each stage (all four inputs at once, or {q,k,v} → {o} → {gate,up} → {down} when sequential):
 *       run layer i on every batch, feeding the stage's inputs to the observers (skipped when there are none)
 *       step.afterStage(i, inputs, runner)   ← quantize those Linears, runner.setLinearWeight(...)
 *     h = layer i (with the substituted weights) applied to h      ← inputs of layer i+1 (or step.outputs(i))
 *     step.afterLayer(i, runner)
 * </pre>
 * After {@code afterLayer} the runner forgets layer i (arrays and substituted weights): the capture holds one layer.
 * Sequential stages reproduce GPTQ's "true sequential" order: each Linear is observed with inputs produced by
 * the already-quantized Linears before it.
 *
 * <p>Schedule: each batch runs as a {@link StagedLayer}, which keeps the state a stage reached (o_proj's input, the
 * residual after attention, down_proj's input) while the weights it came from are unchanged, so a stage computes only
 * its own part from the previous stage's state, and the layer's output only down_proj: the four sequential stages and
 * the output cost one layer forward instead of about 2.7 (and a single stage whose step changes no weights, or only
 * down_proj, costs one instead of two). Same operations on the same inputs as running the layer again each time, so
 * the same bits. The kept state is {@link StagedLayer#keptBytes} over all calibration tokens (tiny-llama-code, 128 ×
 * 512 tokens: 512 MiB; a 7B shape over 8 × 512: 236 MiB). Past {@link #keptBytesBudget()} the passes keep only the
 * D-wide states, not down_proj's input (tiny-llama-code: 128 MiB; 7B over 8 × 512: 64 MiB, over 128 × 512: 1 GiB),
 * and the output runs gate/up again (about 1.45 layer forwards in all); past the budget for those too each stage runs the layer
 * again from its input, as before.
 */
public final class LayerwiseCapture {
    /** What the quantizer does at each stage. */
    public interface Step {
        /**
         * Called before the first stage of {@code layer} with its inputs (one array per batch, owned by the capture:
         * do not close them), e.g. to run weight transforms on the layer; a step that changes the layer's weights
         * calls {@link LlamaRunner#releaseLayer} so the stages see them.
         */
        default void beforeLayer(int layer, List<NDArray> inputs, LlamaRunner runner) {}

        /** Observers that should see {@code inputs} of {@code layer} (e.g. a fresh {@code HessianObserver}). */
        List<LinearObserver> observers(int layer, Set<LinearInput> inputs);

        /** Called once all windows have been observed for {@code inputs}. */
        void afterStage(int layer, Set<LinearInput> inputs, LlamaRunner runner);

        default void afterLayer(int layer, LlamaRunner runner) {}

        /**
         * The layer's outputs when the step already has them, one per batch, handed over to the capture (e.g. a
         * weight transform's statistics pass ran the layer in full precision, and the next layer is calibrated on
         * those, as AutoAWQ does); null: the capture runs the layer with the substituted weights.
         */
        default List<NDArray> outputs(int layer) {
            return null;
        }

        /**
         * As {@link #afterLayer(int, LlamaRunner)}, with the layer's outputs (the next layer's inputs, one array per batch,
         * owned by the capture): what a resumable run saves.
         */
        default void afterLayer(int layer, LlamaRunner runner, List<NDArray> outputs) {
            afterLayer(layer, runner);
        }
    }

    private LayerwiseCapture() {}

    /**
     * The most bytes of state the capture keeps between the stages of a layer (all batches together, native memory):
     * 512 MiB — tiny-llama-code's 128 × 512 calibration keeps all of it, a 7B shape over 8 × 512 too (236 MiB), over
     * 128 × 512 nothing (its residual alone is 1 GiB) —, or {@code -Dlowbit.capture.kept-bytes} (0: always run the layer
     * again from its input; 64 MiB: a 7B shape over 8 × 512 keeps only the residual).
     */
    public static long keptBytesBudget() {
        return Long.getLong("lowbit.capture.kept-bytes", 512L << 20);
    }

    public static void run(LlamaRunner runner, int[][] windows, int batch, boolean sequential, Step step) {
        run(runner, windows, batch, sequential, 0, null, step);
    }

    /**
     * Starts at layer {@code first} with its inputs {@code inputs} (one array per batch of {@code windows}, taken over
     * by the capture) instead of at layer 0 with the embeddings: how a resumed run continues.
     */
    public static void run(LlamaRunner runner, int[][] windows, int batch, boolean sequential, int first,
                           List<NDArray> inputs, Step step) {
        List<NDArray> hidden = new ArrayList<>();
        if (first > 0) {
            hidden.addAll(inputs);
        } else {
            for (int from = 0; from < windows.length; from += batch) {
                hidden.add(runner.embed(java.util.Arrays.copyOfRange(windows, from, Math.min(windows.length, from + batch))));
            }
        }
        List<Set<LinearInput>> stages = sequential
                ? List.of(EnumSet.of(LinearInput.QKV), EnumSet.of(LinearInput.O), EnumSet.of(LinearInput.GATE_UP),
                        EnumSet.of(LinearInput.DOWN))
                : List.of(EnumSet.allOf(LinearInput.class));
        long tokens = 0;
        for (int[] w : windows) tokens += w.length;
        boolean keepHidden = StagedLayer.keptBytes(runner.config(), tokens, true) <= keptBytesBudget();
        boolean keep = keepHidden || StagedLayer.keptBytes(runner.config(), tokens, false) <= keptBytesBudget();
        List<StagedLayer> passes = new ArrayList<>();
        try {
            for (int layer = first; layer < runner.config().numLayers(); layer++) {
                step.beforeLayer(layer, java.util.Collections.unmodifiableList(hidden), runner);
                if (keep) for (NDArray h : hidden) passes.add(new StagedLayer(runner, layer, h, keepHidden));
                for (Set<LinearInput> stage : stages) {
                    List<LinearObserver> observers = step.observers(layer, stage);
                    // a stage nobody observes (RTN after a transform step) need not run the layer
                    if (!observers.isEmpty()) {
                        ObservingHook hook = new ObservingHook(runner.config().architecture(), stage, observers);
                        LinearInput last = null; // the stage's last input in execution order: the layer need not run further
                        for (LinearInput in : LinearInput.values()) if (stage.contains(in)) last = in;
                        for (int i = 0; i < hidden.size(); i++) {
                            if (keep) passes.get(i).advance(last, hook);
                            else runner.runLayer(layer, hidden.get(i), hook, last);
                        }
                    }
                    step.afterStage(layer, stage, runner);
                }
                List<NDArray> given = step.outputs(layer);
                if (given != null && given.size() != hidden.size()) {
                    given.forEach(NDArray::close);
                    throw new IllegalStateException("layer " + layer + ": " + given.size() + " outputs for " + hidden.size() + " batches");
                }
                if (given != null) closeAll(passes);
                for (int i = 0; i < hidden.size(); i++) {
                    NDArray next = given != null ? given.get(i)
                            : keep ? passes.get(i).output() // frees the pass's state
                            : runner.runLayer(layer, hidden.get(i), dev.lowbit.calib.model.LinearHook.NONE);
                    hidden.get(i).close();
                    hidden.set(i, next);
                }
                passes.clear();
                step.afterLayer(layer, runner, java.util.Collections.unmodifiableList(hidden));
                runner.forgetLayer(layer); // never run again: its weights and substitutions go
            }
        } finally {
            closeAll(passes);
            hidden.forEach(NDArray::close);
        }
    }

    private static void closeAll(List<StagedLayer> passes) {
        passes.forEach(StagedLayer::close);
        passes.clear();
    }
}
