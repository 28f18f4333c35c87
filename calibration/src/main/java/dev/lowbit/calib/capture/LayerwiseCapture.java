package dev.lowbit.calib.capture;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.model.StagedLayer;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ObservingHook;
import dev.lowbit.kernels.NativeHeap;
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
 * and the output runs gate/up again (about 1.45 layer forwards in all). Past the budget for those too (a 7B shape over
 * 128 × 512: 1 GiB of residual, 2.7 GiB with down_proj's input) every state is kept on disk instead: each batch's pass
 * is parked in spill files between stages ({@link StagedLayer#park}) and read back when its batch runs next, so the
 * layer still costs one forward; with {@code -Dlowbit.capture.kept-bytes=0} each stage runs the layer again from its
 * input (about 2.4 forwards), as before.
 *
 * <p>Memory: the layer boundary is a {@link Boundary}: batches stay in native memory while they fit the
 * {@link ActivationSpill}'s budget ({@code -Dlowbit.capture.resident-bytes}, 128 MiB: tiny-llama-code's 128 × 512 stays
 * in memory; a boundary over it, as a 7B shape's 1 GiB, spills whole) and go to spill files past it, one line on stderr saying where and by how much. A spilled batch is read back
 * when it runs; the outputs of batch i replace its inputs before batch i+1 runs, so the boundary in and the boundary
 * out share the budget. Steps read the boundary one batch at a time ({@link Boundary#open}). Spilling changes no bits.
 */
public final class LayerwiseCapture {
    /** What the quantizer does at each stage. */
    public interface Step {
        /**
         * Called before the first stage of {@code layer} with its inputs (one array per batch, owned by the capture:
         * read them with {@link Boundary#open}, one at a time), e.g. to run weight transforms on the layer; a step that
         * changes the layer's weights calls {@link LlamaRunner#releaseLayer} so the stages see them.
         */
        default void beforeLayer(int layer, Boundary inputs, LlamaRunner runner) {}

        /** Observers that should see {@code inputs} of {@code layer} (e.g. a fresh {@code HessianObserver}). */
        List<LinearObserver> observers(int layer, Set<LinearInput> inputs);

        /** Called once all windows have been observed for {@code inputs}. */
        void afterStage(int layer, Set<LinearInput> inputs, LlamaRunner runner);

        default void afterLayer(int layer, LlamaRunner runner) {}

        /**
         * The layer's outputs when the step already has them, one per batch, handed over to the capture (e.g. a
         * weight transform's statistics pass ran the layer in full precision, and the next layer is calibrated on
         * those, as AutoAWQ does; made with {@link Boundary#sibling} of the inputs, so they share the budget); null:
         * the capture runs the layer with the substituted weights.
         */
        default Boundary outputs(int layer) {
            return null;
        }

        /**
         * As {@link #afterLayer(int, LlamaRunner)}, with the layer's outputs (the next layer's inputs, one array per batch,
         * owned by the capture): what a resumable run saves.
         */
        default void afterLayer(int layer, LlamaRunner runner, Boundary outputs) {
            afterLayer(layer, runner);
        }
    }

    private LayerwiseCapture() {}

    /**
     * The most bytes of state the capture keeps between the stages of a layer in memory (all batches together, native
     * memory): 512 MiB — tiny-llama-code's 128 × 512 calibration keeps all of it, a 7B shape over 8 × 512 too (236 MiB),
     * over 128 × 512 nothing in memory (its residual alone is 1 GiB: the state is parked in spill files) —, or
     * {@code -Dlowbit.capture.kept-bytes} (0: keep nothing, always run the layer again from its input; 64 MiB: a 7B
     * shape over 8 × 512 keeps only the residual).
     */
    public static long keptBytesBudget() {
        return Long.getLong("lowbit.capture.kept-bytes", 512L << 20);
    }

    /** How the passes keep their state between stages. */
    private enum Keep {
        /** Nothing: each stage runs the layer again from its input. */
        NONE,
        /** The D-wide states in memory; down_proj's input computed again for the output. */
        RESIDUAL,
        /** Every state in memory. */
        ALL,
        /** Every state, parked in spill files between calls. */
        PARKED
    }

    /** Runs with a spill made from the system properties, its notice on stderr. */
    public static void run(LlamaRunner runner, int[][] windows, int batch, boolean sequential, Step step) {
        try (ActivationSpill spill = ActivationSpill.fromProperties(m -> System.err.println("lowbit: " + m))) {
            run(runner, windows, batch, sequential, 0, null, spill, step);
        }
    }

    /** The bytes of one layer boundary over {@code windows}: f32 {@code [tokens, D]}. */
    public static long boundaryBytes(LlamaRunner runner, int[][] windows) {
        long tokens = 0;
        for (int[] w : windows) tokens += w.length;
        return tokens * runner.config().hiddenSize() * Float.BYTES;
    }

    /**
     * Starts at layer {@code first} with its inputs {@code inputs} (one array per batch of {@code windows}, taken over
     * by the capture; on {@code spill}) instead of at layer 0 with the embeddings: how a resumed run continues.
     */
    public static void run(LlamaRunner runner, int[][] windows, int batch, boolean sequential, int first,
                           Boundary inputs, ActivationSpill spill, Step step) {
        Boundary hidden = first > 0 ? inputs : new Boundary(spill, runner.manager(), boundaryBytes(runner, windows));
        Boundary next = null;
        List<StagedLayer> passes = new ArrayList<>();
        try {
            if (first == 0) {
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
            long all = StagedLayer.keptBytes(runner.config(), tokens, true);
            long budget = keptBytesBudget();
            Keep keep = all <= budget ? Keep.ALL
                    : StagedLayer.keptBytes(runner.config(), tokens, false) <= budget ? Keep.RESIDUAL
                    : budget > 0 ? Keep.PARKED : Keep.NONE;
            for (int layer = first; layer < runner.config().numLayers(); layer++) {
                step.beforeLayer(layer, hidden, runner);
                if (keep != Keep.NONE) {
                    for (int i = 0; i < hidden.size(); i++) passes.add(new StagedLayer(runner, layer, hidden.shape(i), keep != Keep.RESIDUAL));
                }
                for (Set<LinearInput> stage : stages) {
                    List<LinearObserver> observers = step.observers(layer, stage);
                    // a stage nobody observes (RTN after a transform step) need not run the layer
                    if (!observers.isEmpty()) {
                        ObservingHook hook = new ObservingHook(runner.config().architecture(), stage, observers);
                        LinearInput last = null; // the stage's last input in execution order: the layer need not run further
                        for (LinearInput in : LinearInput.values()) if (stage.contains(in)) last = in;
                        for (int i = 0; i < hidden.size(); i++) {
                            try (Boundary.Batch x = hidden.open(i)) {
                                if (keep == Keep.NONE) {
                                    runner.runLayer(layer, x.array(), hook, last);
                                } else {
                                    StagedLayer pass = passes.get(i).input(x.array());
                                    pass.advance(last, hook);
                                    if (keep == Keep.PARKED) pass.park(spill, all - budget);
                                }
                            }
                        }
                    }
                    NativeHeap.trim(); // the forward's freed intermediates leave the resident set before the step's solves
                    step.afterStage(layer, stage, runner);
                }
                Boundary given = step.outputs(layer);
                if (given != null && given.size() != hidden.size()) {
                    int n = given.size();
                    given.close();
                    throw new IllegalStateException("layer " + layer + ": " + n + " outputs for " + hidden.size() + " batches");
                }
                if (given != null) {
                    closeAll(passes);
                    next = given;
                } else {
                    next = hidden.sibling();
                    for (int i = 0; i < hidden.size(); i++) {
                        NDArray out;
                        try (Boundary.Batch x = hidden.open(i)) {
                            out = keep != Keep.NONE ? passes.get(i).input(x.array()).output() // frees the pass's state
                                    : runner.runLayer(layer, x.array(), dev.lowbit.calib.model.LinearHook.NONE);
                        }
                        hidden.free(i); // batch i's input leaves before its output takes its place in the budget
                        next.add(out);
                    }
                }
                hidden.close();
                hidden = next;
                next = null;
                passes.clear();
                step.afterLayer(layer, runner, hidden);
                runner.forgetLayer(layer); // never run again: its weights and substitutions go
                NativeHeap.trim(); // what the layer freed in the C heap leaves the resident set (0.4-0.6 GiB at 7B)
            }
        } finally {
            closeAll(passes);
            if (next != null) next.close();
            hidden.close();
        }
    }

    private static void closeAll(List<StagedLayer> passes) {
        passes.forEach(StagedLayer::close);
        passes.clear();
    }
}
