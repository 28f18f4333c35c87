package dev.lowbit.calib.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import dev.lowbit.calib.capture.ActivationSpill;
import java.util.ArrayList;
import java.util.List;

/**
 * One decoder layer run over one batch in stages that keep the state reached, so that a later stage computes only its
 * own part of the layer instead of running it again from its input:
 * <pre>
 *   x ─ input norm (QKV input) ─ q,k,v, RoPE, attention ─→ context (o_proj's input)        kept, per chunk of windows
 *   context ─ o_proj, + x ─→ residual ─ post-attention norm (GATE_UP input)               kept
 *     ─ gate, up, SiLU ─→ hidden (down_proj's input)                                      kept, per chunk of rows
 *   hidden ─ down_proj, + residual ─→ output
 * </pre>
 * Each piece is the {@link LlamaRunner} code that {@link LlamaRunner#runLayer} runs, on the same inputs in the same
 * chunks, so a stage gives bit for bit what {@code runLayer(layer, x, hook, until)} gives with the weights of that
 * moment. A kept state is used only while the weights it was computed with are unchanged (the runner's edit stamps:
 * the context until q/k/v or anything before them change, the residual until o_proj, the hidden state until gate/up);
 * otherwise the pass starts again from {@code x}. That is how GPTQ's true-sequential order costs one forward: after
 * {q,k,v} are quantized the {o} stage runs attention once, after o the {gate,up} stage runs only o_proj and the norm,
 * after gate/up the {down} stage only gate/up, and the output only down_proj.
 *
 * <p>Memory: at most {@link #keptBytes} per batch (the residual and down_proj's input; the context goes once the
 * residual exists), in the runner's native memory; {@link #close} frees it. A pass made with {@code keepHidden} false
 * keeps down_proj's input only until the stage that computed it returns ({@link #keptBytes(LlamaConfig, long, boolean)}:
 * the D-wide states alone), and the output computes it again from the residual: gate/up run twice, the rest once.
 * The caller keeps {@code x} open meanwhile, or hands it in again before each call ({@link #input}: a spilled layer input
 * read back for the call).
 *
 * <p>{@link #park} writes the kept state to spill files and frees its memory between calls (the capture does so when
 * the state of all batches is over its budget): the next call reads it back, the same bits, so parking changes no
 * output. A state is written once: it never changes after it is computed, so a state read back and parked again only
 * frees its memory.
 */
public final class StagedLayer implements AutoCloseable {
    private final LlamaRunner runner;
    private final int layer;
    private NDArray x;
    private final long windows;
    private final long tokens;
    private State context;
    private State residual;
    private State hidden;
    private final boolean keepHidden;

    /**
     * Arrays kept after a stage, the edit count when they were computed and whether that pass could be chunked; in
     * memory ({@code parts}), in spill files ({@code files}), or both (read back, the files still valid).
     */
    private static final class State {
        private List<NDArray> parts;
        private List<ActivationSpill.Spilled> files;
        private final long computedAt;
        private final boolean chunkable;

        State(List<NDArray> parts, long computedAt, boolean chunkable) {
            this.parts = parts;
            this.computedAt = computedAt;
            this.chunkable = chunkable;
        }

        List<NDArray> parts() {
            return parts;
        }

        long computedAt() {
            return computedAt;
        }

        boolean chunkable() {
            return chunkable;
        }

        void park(ActivationSpill spill, long overBy) {
            if (parts == null) return;
            if (files == null) {
                List<ActivationSpill.Spilled> written = new ArrayList<>();
                try {
                    for (NDArray p : parts) written.add(spill.write(p, overBy));
                } catch (RuntimeException e) {
                    written.forEach(ActivationSpill.Spilled::free);
                    throw e;
                }
                files = written;
            }
            parts.forEach(NDArray::close);
            parts = null;
        }

        void unpark(ai.djl.ndarray.NDManager manager) {
            if (parts != null || files == null) return;
            List<NDArray> read = new ArrayList<>();
            try {
                for (ActivationSpill.Spilled f : files) read.add(f.read(manager));
            } catch (RuntimeException e) {
                read.forEach(NDArray::close);
                throw e;
            }
            parts = read;
        }

        void close() {
            if (parts != null) parts.forEach(NDArray::close);
            if (files != null) files.forEach(ActivationSpill.Spilled::free);
            parts = null;
            files = null;
        }
    }

    /** A staged pass of {@code layer} over {@code x [B, T, D]} (the caller's, left open until this pass is closed). */
    public StagedLayer(LlamaRunner runner, int layer, NDArray x) {
        this(runner, layer, x, true);
    }

    /** As {@link #StagedLayer(LlamaRunner, int, NDArray)}; {@code keepHidden} false: down_proj's input is not kept. */
    public StagedLayer(LlamaRunner runner, int layer, NDArray x, boolean keepHidden) {
        this(runner, layer, x.getShape(), keepHidden);
        this.x = x;
    }

    /** A staged pass over an input of {@code shape} {@code [B, T, D]} handed in before each call ({@link #input}). */
    public StagedLayer(LlamaRunner runner, int layer, ai.djl.ndarray.types.Shape shape, boolean keepHidden) {
        this.keepHidden = keepHidden;
        this.runner = runner;
        this.layer = layer;
        this.windows = shape.get(0);
        this.tokens = shape.get(1);
    }

    /**
     * The layer input for the next call (the same values every time, e.g. read back from a spill file; the caller
     * keeps it open during the call).
     */
    public StagedLayer input(NDArray x) {
        this.x = x;
        return this;
    }

    /**
     * Writes the kept state to {@code spill}'s files and frees its memory; the next call reads it back.
     * {@code overBy}: the bytes over budget the spill notice reports if this is the first spill.
     */
    public void park(ActivationSpill spill, long overBy) {
        for (State s : new State[] {context, residual, hidden}) if (s != null) s.park(spill, overBy);
    }

    /** Reads a parked state back (after stale states were dropped: they are not read). */
    private void unpark() {
        for (State s : new State[] {context, residual, hidden}) if (s != null) s.unpark(runner.manager());
    }

    /**
     * The most bytes a staged pass keeps between stages over {@code tokens} tokens of {@code config}'s model: the
     * residual {@code [tokens, D]} and down_proj's input {@code [tokens, I]} in f32, or the context
     * {@code [tokens, H·hd]} when that is bigger.
     */
    public static long keptBytes(LlamaConfig config, long tokens) {
        return keptBytes(config, tokens, true);
    }

    /** {@link #keptBytes(LlamaConfig, long)} of passes that keep down_proj's input or not: the context or the residual. */
    public static long keptBytes(LlamaConfig config, long tokens, boolean keepHidden) {
        long context = (long) config.numHeads() * config.headDim();
        long hidden = keepHidden ? config.intermediateSize() : 0;
        return tokens * Math.max(context, config.hiddenSize() + hidden) * Float.BYTES;
    }

    /**
     * Runs the layer as far as the input {@code until}, which {@code hook} sees (as do the inputs before it that this
     * call computes), from the furthest kept state that is still valid; keeps the state reached.
     */
    public void advance(LinearInput until, LinearHook hook) {
        boolean chunkable = runner.chunkable(hook);
        dropStale(chunkable);
        unpark();
        try (NDScope scope = new NDScope()) {
            switch (until) {
                case QKV -> { // only the input norm: nothing worth keeping
                    long per = runner.attentionWindowsPerPass(windows, tokens, hook);
                    LayerWeights w = runner.layer(layer);
                    for (long from = 0; from < windows; from += per) {
                        NDArray part = per < windows ? x.get(new NDIndex("{}:{}", from, Math.min(windows, from + per))) : x;
                        LlamaRunner.scoped(() -> runner.attentionContext(layer, w, part, hook, LinearInput.QKV));
                    }
                }
                case O -> {
                    if (context != null) {
                        for (NDArray part : context.parts()) hook.onInput(layer, LinearInput.O, part);
                    } else {
                        context = context(hook, chunkable);
                    }
                }
                case GATE_UP -> hook.onInput(layer, LinearInput.GATE_UP, mlpInput(hook, chunkable));
                case DOWN -> {
                    if (hidden != null) {
                        for (NDArray part : hidden.parts()) hook.onInput(layer, LinearInput.DOWN, part);
                    } else {
                        NDArray m = mlpInput(hook, chunkable);
                        hook.onInput(layer, LinearInput.GATE_UP, m);
                        State computed = hidden(m, hook, chunkable);
                        if (keepHidden) hidden = computed;
                        else computed.close();
                    }
                }
            }
        }
    }

    /**
     * The layer's output {@code [B, T, D]} (the caller closes it), from the furthest kept state that is still valid;
     * the kept state is freed.
     */
    public NDArray output() {
        LinearHook none = LinearHook.NONE;
        boolean chunkable = runner.chunkable(none);
        dropStale(chunkable);
        unpark();
        try (NDScope scope = new NDScope()) {
            if (hidden == null) {
                NDArray m = mlpInput(none, chunkable);
                hidden = hidden(m, none, chunkable);
            }
            LayerWeights w = runner.layer(layer);
            NDList downs = new NDList();
            for (NDArray part : hidden.parts()) downs.add(runner.downProjection(layer, w, part));
            NDArray mlpOut = downs.size() == 1 ? downs.getFirst() : NDArrays.concat(downs, 0);
            NDArray out = mlpOut.reshape(windows, tokens, runner.config().hiddenSize());
            out.addi(residual.parts().getFirst());
            NDScope.unregister(out);
            return out;
        } finally {
            close();
        }
    }

    @Override
    public void close() {
        for (State s : new State[] {context, residual, hidden}) if (s != null) s.close();
        context = residual = hidden = null;
    }

    /** Frees kept states whose weights changed since, or that were chunked differently from a pass under this hook. */
    private void dropStale(boolean chunkable) {
        if (stale(context, LinearInput.QKV, chunkable)) {
            context.close();
            context = null;
        }
        if (stale(residual, LinearInput.O, chunkable)) {
            residual.close();
            residual = null;
        }
        if (stale(hidden, LinearInput.GATE_UP, chunkable)) {
            hidden.close();
            hidden = null;
        }
    }

    private boolean stale(State s, LinearInput through, boolean chunkable) {
        return s != null && (s.chunkable() != chunkable || runner.lastEdit(layer, through) > s.computedAt());
    }

    /** o_proj's input per chunk of windows, as runLayer's attention block computes it (hook sees QKV and O). */
    private State context(LinearHook hook, boolean chunkable) {
        long at = runner.editCount();
        long per = runner.attentionWindowsPerPass(windows, tokens, hook);
        LayerWeights w = runner.layer(layer);
        List<NDArray> parts = new ArrayList<>();
        for (long from = 0; from < windows; from += per) {
            NDArray in = per < windows ? x.get(new NDIndex("{}:{}", from, Math.min(windows, from + per))) : x;
            NDArray part = LlamaRunner.scoped(() -> runner.attentionContext(layer, w, in, hook, LinearInput.O));
            NDScope.unregister(part);
            parts.add(part);
        }
        return new State(parts, at, chunkable);
    }

    /**
     * The MLP's normed input from the kept residual (computed first, from the context, when not kept): an array of the
     * current scope.
     */
    private NDArray mlpInput(LinearHook hook, boolean chunkable) {
        if (residual == null) {
            if (context == null) context = context(hook, chunkable);
            long at = runner.editCount();
            LayerWeights w = runner.layer(layer);
            NDList outs = new NDList();
            for (NDArray part : context.parts()) outs.add(runner.outputProjection(layer, w, part));
            // chunked, runLayer joins the chunks' o_proj outputs; one pass has the one output
            NDArray attnOut = context.parts().size() == 1 ? outs.getFirst() : NDArrays.concat(outs, 0);
            NDArray x1 = attnOut.reshape(windows, tokens, runner.config().hiddenSize());
            x1.addi(x);
            NDScope.unregister(x1);
            residual = new State(List.of(x1), at, chunkable);
            context.close(); // the residual replaces it
            context = null;
        }
        return runner.postAttentionNorm(runner.layer(layer), residual.parts().getFirst());
    }

    /** down_proj's input per chunk of rows of {@code m}, as runLayer's MLP block computes it (hook sees DOWN). */
    private State hidden(NDArray m, LinearHook hook, boolean chunkable) {
        long at = runner.editCount();
        long rows = m.getShape().get(0);
        long per = runner.mlpRowsPerPass(rows, hook);
        LayerWeights w = runner.layer(layer);
        List<NDArray> parts = new ArrayList<>();
        for (long from = 0; from < rows; from += per) {
            NDArray in = per < rows ? m.get(new NDIndex("{}:{}", from, Math.min(rows, from + per))) : m;
            NDArray part = LlamaRunner.scoped(() -> runner.mlpHidden(layer, w, in, hook));
            NDScope.unregister(part);
            parts.add(part);
        }
        return new State(parts, at, chunkable);
    }
}
