package dev.lowbit.pipeline.quantize;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.capture.Boundary;
import ai.djl.ndarray.NDScope;
import dev.lowbit.calib.model.ActivationQuantizer;
import dev.lowbit.calib.model.Architecture;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.model.ScaledActivations;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.model.OverlayModelSource;
import dev.lowbit.pipeline.artifact.ArtifactPlan;
import dev.lowbit.ptq.rtn.Rtn;
import dev.lowbit.ptq.transform.LayerLoss;
import dev.lowbit.ptq.transform.TensorSet;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The losses of {@link LayerLoss} on calibration's runner. The whole-layer loss swaps the candidate into the overlay,
 * runs the layer on every captured batch and puts the layer back as it was. The sub-block loss runs only the block a
 * mapping scales, on a sample of whole windows (evenly spaced over the captured ones): the attention block on the
 * sampled layer inputs; the MLP on the post-attention norm of the sampled residual stream x + attention(x) (computed
 * once: the transforms are function-preserving); down_proj alone as one matmul on its cached input
 * silu(gate)·up. References are recomputed whenever the block's current tensors changed (a fold).
 */
final class BlockLoss implements LayerLoss, AutoCloseable {
    /** The tensor roles the sub-block {@code block} reads (its fingerprint and the overlay it needs). */
    private static final Map<LayerLoss.Block, List<TensorRole>> BLOCK_ROLES = Map.of(
            LayerLoss.Block.ATTENTION, List.of(TensorRole.INPUT_NORM, TensorRole.Q, TensorRole.K, TensorRole.V, TensorRole.O,
                    TensorRole.Q_NORM, TensorRole.K_NORM),
            LayerLoss.Block.MLP, List.of(TensorRole.POST_ATTENTION_NORM, TensorRole.GATE, TensorRole.UP, TensorRole.DOWN),
            LayerLoss.Block.DOWN, List.of(TensorRole.POST_ATTENTION_NORM, TensorRole.GATE, TensorRole.UP, TensorRole.DOWN));

    private final int layer;
    private final LlamaRunner runner;
    private final Boundary inputs;
    private final TensorSet current;
    private final int sampleTokens;
    private Boundary reference; // the layer's fp outputs for the whole-layer loss, on the inputs' spill
    private NDArray sample;   // [W, T, D] sampled layer inputs
    private NDArray residual; // [W·T, D] sample + attention(sample)
    /** Per block: the fingerprint of its current tensors, its input (MLP: m; DOWN: down's input) and fp output. */
    private final Map<LayerLoss.Block, Ref> refs = new java.util.EnumMap<>(LayerLoss.Block.class);
    /** Overlay entries the references replaced: their values before (null: not replaced), restored on close. */
    private final Map<String, float[]> saved = new LinkedHashMap<>();
    private final OverlayModelSource model;
    private final ArtifactPlan plan;

    /** DOWN: {@code input} is down_proj's input A on the sample, {@code gram} Aᵀ·A or null, {@code output} unused (null). */
    private record Ref(long fingerprint, NDArray input, float[] output, NDArray gram) {
        Ref(long fingerprint, NDArray input, float[] output) {
            this(fingerprint, input, output, null);
        }

        void close() {
            if (input != null) input.close();
            if (gram != null) gram.close();
        }
    }

    /**
     * @param model the overlay the runner reads (the block's current tensors go into it while this loss is open)
     * @param plan  the quantizer's grid per Linear ({@link #fakeQuantize})
     */
    BlockLoss(int layer, LlamaRunner runner, Boundary inputs, TensorSet current, int sampleTokens, OverlayModelSource model,
              ArtifactPlan plan) {
        this.model = model;
        this.plan = plan;
        this.layer = layer;
        this.runner = runner;
        this.inputs = inputs;
        this.current = current;
        this.sampleTokens = sampleTokens;
    }

    @Override
    public double loss(TensorSet candidate, boolean fakeQuantize) {
        if (reference == null) {
            reference = inputs.sibling();
            for (int i = 0; i < inputs.size(); i++) {
                try (Boundary.Batch h = inputs.open(i)) {
                    reference.add(runner.runLayer(layer, h.array(), (l, in, x) -> {}));
                }
            }
        }
        Map<String, float[]> swap = new LinkedHashMap<>();
        for (String n : candidate.names()) {
            float[] v = candidate.read(n);
            swap.put(n, fakeQuantize ? fakeQuantized(n, candidate.shape(n), v) : v);
        }
        return overlaid(swap, () -> {
            double sum = 0;
            long count = 0;
            for (int i = 0; i < inputs.size(); i++) {
                try (Boundary.Batch h = inputs.open(i); Boundary.Batch ref = reference.open(i);
                     NDArray out = runner.runLayer(layer, h.array(), (l, in, x) -> {});
                     NDArray diff = out.sub(ref.array())) {
                    float[] d = diff.toFloatArray();
                    for (float x : d) sum += (double) x * x;
                    count += d.length;
                }
            }
            return sum / count;
        });
    }

    @Override
    public double blockLoss(LayerLoss.Block block, Map<TensorRole, float[]> weights) {
        return blockLoss(block, weights, null);
    }

    @Override
    public double blockLoss(LayerLoss.Block block, Map<TensorRole, float[]> weights, InputQuantization input) {
        return blockLoss(block, List.copyOf(weights.keySet()), weights::get, input);
    }

    /** Each candidate weight is copied into the runner's native memory before the next is made (see the interface). */
    @Override
    public double blockLoss(LayerLoss.Block block, List<TensorRole> linears, java.util.function.Function<TensorRole, float[]> weights) {
        return blockLoss(block, linears, weights, null);
    }

    private double blockLoss(LayerLoss.Block block, List<TensorRole> linears, java.util.function.Function<TensorRole, float[]> weights,
                             InputQuantization input) {
        Ref ref = reference(block);
        for (TensorRole r : linears) {
            if (!BLOCK_ROLES.get(block).contains(r) || r.kind() != TensorRole.Kind.LINEAR) {
                throw new IllegalArgumentException(r + " is not a Linear of the " + block + " block");
            }
        }
        float[] out;
        if (block == LayerLoss.Block.DOWN) {
            float[] w = linears.contains(TensorRole.DOWN) ? weights.apply(TensorRole.DOWN) : null;
            if (input != null) return downLoss(ref, w == null ? current.read(name(TensorRole.DOWN)) : w, input);
            return w == null ? 0 : downLoss(ref, w);
        } else {
            // the block's current tensors are in the overlay (reference); only the candidate Linears are swapped, each
            // copied off the heap (setLinearWeight) before the next candidate is made
            List<Linear> swapped = new ArrayList<>();
            try {
                for (TensorRole role : linears) {
                    Linear l = linearOf(role);
                    runner.setLinearWeight(layer, l, weights.apply(role));
                    swapped.add(l);
                }
                ActivationQuantizer before = runner.activations();
                if (input != null) runner.setActivations(activations(input));
                try {
                    out = run(block, ref.input());
                } finally {
                    runner.setActivations(before);
                }
            } finally {
                for (Linear l : swapped) runner.clearLinearWeight(layer, l);
            }
        }
        return mse(out, ref.output());
    }

    @Override
    public float[] fakeQuantize(TensorRole linear, float[] w) {
        String n = name(linear);
        return fakeQuantized(n, current.shape(n), w);
    }

    /** Integer schemes: {@link Rtn#fakeQuantizeInPlace}; GGUF types: each row re-encoded and decoded over itself. */
    @Override
    public float[] fakeQuantizeInPlace(TensorRole linear, float[] w) {
        String n = name(linear);
        return fakeQuantized(n, current.shape(n), w, true);
    }

    private String name(TensorRole role) {
        return new ModelArchitecture.Slot(role, layer, "weight").hfName();
    }

    /** The block's current tensors (weights, biases, norms) by name, for the overlay. */
    private Map<String, float[]> currentOf(LayerLoss.Block block) {
        Map<String, float[]> m = new LinkedHashMap<>();
        for (TensorRole r : BLOCK_ROLES.get(block)) {
            for (String kind : new String[] {"weight", "bias"}) {
                String n = new ModelArchitecture.Slot(r, layer, kind).hfName();
                if (current.contains(n)) m.put(n, current.read(n));
            }
        }
        return m;
    }

    /**
     * The block's reference on the sample, recomputed when its current tensors changed (a fold): they go into the
     * overlay for the rest of this layer's transforms (restored in {@link #close()}), so candidates only swap Linears.
     */
    private Ref reference(LayerLoss.Block block) {
        Map<String, float[]> cur = currentOf(block);
        long fp = 17;
        for (Map.Entry<String, float[]> e : cur.entrySet()) fp = fp * 31 + e.getKey().hashCode() * 1_000_003L + java.util.Arrays.hashCode(e.getValue());
        Ref ref = refs.get(block);
        if (ref != null && ref.fingerprint() == fp) return ref;
        // a block's candidates are scored one block after the other (AWQ, SmoothQuant: attention, MLP, down): the other
        // blocks' references go (at the 7B shape the MLP's input, 64 MiB, while down_proj's 180 MB input is formed),
        // recomputed, the same, should a block come back
        for (Ref r : refs.values()) r.close();
        refs.clear();
        for (Map.Entry<String, float[]> e : cur.entrySet()) {
            String n = e.getKey();
            if (!saved.containsKey(n)) saved.put(n, model.isReplaced(n) ? model.readAll(n) : null);
            model.put(n, model.shape(n), e.getValue());
        }
        runner.releaseLayer(layer);
        if (block != LayerLoss.Block.ATTENTION) {
            residual();
            // only the attention block runs on the sampled inputs themselves (rebuilt, the same, if it comes back)
            if (sample != null) sample.close();
            sample = null;
        }
        Ref fresh = switch (block) {
            case ATTENTION -> new Ref(fp, null, run(block, null));
            case MLP -> {
                NDArray m = runner.mlpInput(layer, residual());
                yield new Ref(fp, m, run(block, m));
            }
            case DOWN -> {
                try (NDArray m = runner.mlpInput(layer, residual())) {
                    NDArray act = runner.downInput(layer, m);
                    // the Gram matrix only where it is the cheaper product (fewer inputs K than sampled tokens N)
                    long tokens = act.getShape().get(0), inputs = act.getShape().get(1);
                    NDArray gram = null;
                    if (inputs < tokens) {
                        try (NDArray at = act.transpose()) { // the view closed: it would hold A's memory to the end of the run
                            gram = at.matMul(act);
                        }
                    }
                    yield new Ref(fp, act, null, gram);
                }
            }
        };
        refs.put(block, fresh);
        return fresh;
    }

    /** The sampled windows of the layer input, {@code [W, T, D]}: W = ⌈tokens / T⌉ evenly spaced (all when 0). */
    private NDArray sample() {
        if (sample != null) return sample;
        // window k of the boundary is window k - first[b] of batch b; each batch is read once, only its picked windows
        // copied out (a spilled boundary never comes back whole)
        int batches = inputs.size();
        long[] first = new long[batches + 1];
        for (int b = 0; b < batches; b++) first[b + 1] = first[b] + inputs.shape(b).get(0);
        int n = (int) first[batches];
        long t = inputs.shape(0).get(1);
        int w = sampleTokens <= 0 ? n : (int) Math.min(n, Math.ceilDiv(sampleTokens, t));
        ai.djl.ndarray.NDList picked = new ai.djl.ndarray.NDList();
        try {
            int b = 0;
            Boundary.Batch open = null;
            int openIndex = -1;
            try {
                for (int i = 0; i < w; i++) {
                    long k = (long) i * n / w;
                    while (k >= first[b + 1]) b++;
                    if (open == null || openIndex != b) {
                        if (open != null) open.close();
                        open = inputs.open(b);
                        openIndex = b;
                    }
                    try (NDArray view = open.array().get(k - first[b])) {
                        picked.add(view.duplicate());
                    }
                }
            } finally {
                if (open != null) open.close();
            }
            sample = ai.djl.ndarray.NDArrays.stack(picked);
        } finally {
            picked.close();
        }
        return sample;
    }

    /** x + attention(x) on the sample, {@code [W·T, D]} (the fp residual stream before the MLP). */
    private NDArray residual() {
        if (residual != null) return residual;
        NDArray s = sample();
        // the reshaped view is closed too: left open, it held the sampled inputs' memory (64 MiB at the 7B shape) in the
        // runner's manager until the run ended, one more copy per layer
        try (NDArray a = runner.attention(layer, s); NDArray flat = s.reshape(a.getShape())) {
            residual = a.add(flat);
        }
        return residual;
    }

    /** The block's output on its input with the runner's current weights (the overlay). */
    private float[] run(LayerLoss.Block block, NDArray input) {
        try (NDArray out = block == LayerLoss.Block.ATTENTION ? runner.attention(layer, sample()) : runner.mlp(layer, input)) {
            return out.toFloatArray();
        }
    }

    /**
     * The runner's activation quantizer for {@code q}: on this layer's input that {@code q.reader()} reads,
     * x → Q_a(x ÷ s)·s ({@link ScaledActivations}, static scale {@link InputQuantization#staticScale()}); identity
     * elsewhere. Arrays it creates live in the caller's NDScope.
     */
    private ActivationQuantizer activations(InputQuantization q) {
        LinearInput target = LayerTransforms.inputOf(q.reader());
        ScaledActivations a = new ScaledActivations(q.scheme(), (l, in) -> (float) q.staticScale());
        float[] s = q.divisor();
        return (l, in, x) -> {
            if (l != layer || in != target) return x;
            NDArray div = x.getManager().create(s);
            return a.apply(l, in, x.div(div)).mul(div);
        };
    }

    /**
     * down_proj on its sampled input A with the input quantized as {@code q} says: 1/(N·D) · ‖Q_a(A)·W'ᵀ − A·Wᵀ‖²
     * (W the current weight, W' the candidate); two forwards of one matmul, as no Gram matrix absorbs Q_a.
     */
    private double downLoss(Ref ref, float[] w, InputQuantization q) {
        String n = name(TensorRole.DOWN);
        long[] shape = current.shape(n);
        ai.djl.ndarray.types.Shape wShape = new ai.djl.ndarray.types.Shape(shape[0], shape[1]);
        try (NDScope scope = new NDScope()) {
            NDArray a = ref.input();
            NDArray quantized = activations(q).apply(layer, LinearInput.DOWN, a);
            NDArray cand = quantized.matMul(runner.manager().create(w, wShape).transpose());
            NDArray fp = a.matMul(runner.manager().create(current.read(n), wShape).transpose());
            NDArray diff = cand.sub(fp);
            double sum = diff.mul(diff).sum().getFloat();
            return sum / ((double) a.getShape().get(0) * shape[0]);
        }
    }

    /**
     * down_proj alone is linear, so its output error needs no forward: with A its sampled input (N tokens) and
     * ΔW = W' − W (D outputs),
     * <pre>
     *   1/(N·D) · Σ_t ‖(W' − W)·a_t‖²  =  1/(N·D) · Σ_{r,c} (ΔW·AᵀA)_{rc} · ΔW_{rc}
     * </pre>
     * one D×K·K×K product per candidate on the Gram matrix AᵀA (formed once) instead of an N×K·K×D one
     * (K = 1536 inputs, N = 4096 sampled tokens at tiny-llama-code: 2.4 instead of 6.4 GFLOP). Where K ≥ N the direct
     * product is the cheaper one and needs no K×K matrix (a 7B model's down_proj, K = 11008, N = 4096: 0.37 instead of
     * 0.99 TFLOP, and no 0.48 GB Gram matrix): there the loss is 1/(N·D)·‖A·ΔWᵀ‖² as computed, a block of ΔW's rows
     * at a time (16 MiB of it and N × 381 outputs at the 7B shape instead of 180 MB and 64 MiB).
     */
    private double downLoss(Ref ref, float[] w) {
        String n = name(TensorRole.DOWN);
        long[] shape = current.shape(n);
        int rows = Math.toIntExact(shape[0]), cols = Math.toIntExact(shape[1]);
        if (ref.gram() == null) return directDownLoss(runner.manager(), ref.input(), w, current.read(n), rows, cols, 1 << 22);
        return gramDownLoss(runner.manager(), ref.gram(), ref.input().getShape().get(0), w, current.read(n), rows, cols);
    }

    /**
     * 1/(N·D)·‖A·(W' − W)ᵀ‖² with A {@code [N, K]} on the engine and W', W {@code [D, K]} row-major: ΔW formed and
     * multiplied a block of its rows (at most {@code maxValues} values) at a time, the blocks' f32 sums added in f64.
     */
    static double directDownLoss(ai.djl.ndarray.NDManager manager, NDArray a, float[] w, float[] cur, int rows, int cols, int maxValues) {
        int block = Math.max(1, maxValues / cols);
        double total = 0;
        // one block of ΔW in native memory freed on return, reused by every block: manager.create(float[]) would leave
        // a direct buffer per block (16 MiB, 11 per candidate at the 7B shape) until the garbage collector ran
        float[] delta = new float[Math.min(rows, block) * cols];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate((long) delta.length * Float.BYTES, 64);
            for (int from = 0; from < rows; from += block) {
                int to = Math.min(rows, from + block), n = (to - from) * cols;
                for (int i = 0, j = from * cols; i < n; i++, j++) delta[i] = w[j] - cur[j];
                try (NDArray d = native32(manager, seg, delta, n, new ai.djl.ndarray.types.Shape(to - from, cols));
                     NDArray dt = d.transpose();
                     NDArray out = a.matMul(dt);
                     NDArray sq = out.mul(out);
                     NDArray sum = sq.sum()) {
                    total += sum.getFloat();
                }
            }
        }
        return total / ((double) a.getShape().get(0) * rows);
    }

    /** The same loss from the Gram matrix G = AᵀA ({@code [K, K]}, N tokens): 1/(N·D)·Σ_{r,c} (ΔW·G)_{rc}·ΔW_{rc}. */
    static double gramDownLoss(ai.djl.ndarray.NDManager manager, NDArray gram, long tokens, float[] w, float[] cur, int rows, int cols) {
        float[] delta = new float[w.length];
        for (int i = 0; i < w.length; i++) delta[i] = w[i] - cur[i];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate((long) delta.length * Float.BYTES, 64);
            try (NDArray d = native32(manager, seg, delta, delta.length, new ai.djl.ndarray.types.Shape(rows, cols));
                 NDArray dg = d.matMul(gram);
                 NDArray prod = dg.mul(d);
                 NDArray sum = prod.sum()) {
                return sum.getFloat() / ((double) tokens * rows);
            }
        }
    }

    /**
     * The first {@code n} values of {@code values} copied into {@code seg} and an f32 array of {@code shape} over it
     * (PyTorch's from_blob: no copy); close the array before the segment's arena.
     */
    private static NDArray native32(ai.djl.ndarray.NDManager manager, MemorySegment seg, float[] values, int n, ai.djl.ndarray.types.Shape shape) {
        MemorySegment.copy(values, 0, seg, NATIVE_FLOAT, 0, n);
        return manager.create(seg.asSlice(0, (long) n * Float.BYTES).asByteBuffer().order(ByteOrder.nativeOrder()), shape,
                ai.djl.ndarray.types.DataType.FLOAT32);
    }

    private static final java.lang.foreign.ValueLayout.OfFloat NATIVE_FLOAT =
            java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.nativeOrder());

    private static double mse(float[] a, float[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            sum += d * d;
        }
        return sum / a.length;
    }

    /** Runs {@code body} with {@code tensors} in the overlay (and the layer reloaded), then puts the layer back. */
    private <R> R overlaid(Map<String, float[]> tensors, java.util.function.Supplier<R> body) {
        Map<String, float[]> previous = new HashMap<>();
        for (Map.Entry<String, float[]> e : tensors.entrySet()) {
            String n = e.getKey();
            previous.put(n, model.isReplaced(n) ? model.readAll(n) : null);
            model.put(n, model.shape(n), e.getValue());
        }
        runner.releaseLayer(layer);
        try {
            return body.get();
        } finally {
            for (Map.Entry<String, float[]> e : previous.entrySet()) {
                if (e.getValue() == null) model.remove(e.getKey());
                else model.put(e.getKey(), model.shape(e.getKey()), e.getValue());
            }
            runner.releaseLayer(layer);
        }
    }

    /**
     * Round to nearest onto the module's planned grid, dequantized: the integer (or other) scheme's RTN, a GGUF type's
     * own search row by row, or for two trit-planes (ptqtp) the data-free PTQTP fit; tensors the quantizer does not
     * quantize stay as they are.
     */
    private float[] fakeQuantized(String name, long[] shape, float[] v) {
        return fakeQuantized(name, shape, v, false);
    }

    /** ... over {@code v} itself when {@code inPlace} allows (the result is the same either way). */
    private float[] fakeQuantized(String name, long[] shape, float[] v, boolean inPlace) {
        for (ArtifactPlan.Entry e : plan.quantized()) {
            if (!e.name().equals(name)) continue;
            int rows = Math.toIntExact(shape[0]), cols = Math.toIntExact(shape[1]);
            if (e.scheme() != null && e.scheme().element() == dev.lowbit.io.quant.QuantScheme.ElementType.TERNARY
                    && e.scheme().planes() == 2) {
                // ptqtp: the data-free two-plane fit from the progressive start (the recipe's calibrated fit runs after
                // the transform; this is its cheap stand-in inside the search, ~6× faster than the multi start)
                return dev.lowbit.ptq.ternary.Ptqtp.quantize(e.module(), v, rows, cols, e.scheme(),
                        dev.lowbit.ptq.ternary.Ptqtp.DEFAULT_ITERATIONS, dev.lowbit.ptq.ternary.TritPlaneFit.Start.PROGRESSIVE,
                        null).tensor().dequantize();
            }
            if (e.scheme() != null) {
                if (inPlace && Rtn.fakeQuantizesInPlace(e.scheme())) {
                    Rtn.fakeQuantizeInPlace(e.module(), v, rows, cols, e.scheme());
                    return v;
                }
                return Rtn.rtn(e.module(), v, rows, cols, e.scheme()).dequantize();
            }
            var codec = dev.lowbit.io.ggml.BlockCodecs.forType(e.ggml());
            long rowBytes = codec.rowBytes(cols);
            var seg = java.lang.foreign.MemorySegment.ofArray(new byte[Math.toIntExact(rowBytes)]);
            // a row is encoded whole before its decoded values are written, and rows are independent
            float[] out = inPlace ? v : new float[v.length];
            for (int r = 0; r < rows; r++) {
                dev.lowbit.ptq.search.GgmlSearches.forType(e.ggml()).quantizeRow(v, r * cols, cols, null, seg, 0);
                codec.dequantizeRow(seg, 0, out, r * cols, cols);
            }
            return out;
        }
        return v;
    }

    private static Linear linearOf(TensorRole role) {
        for (Linear l : Linear.values()) if (Architecture.role(l) == role) return l;
        throw new IllegalArgumentException(role + " is not a Linear");
    }

    @Override
    public void close() {
        for (Map.Entry<String, float[]> e : saved.entrySet()) {
            if (e.getValue() == null) model.remove(e.getKey());
            else model.put(e.getKey(), model.shape(e.getKey()), e.getValue());
        }
        if (!saved.isEmpty()) runner.releaseLayer(layer);
        if (reference != null) reference.close();
        for (Ref r : refs.values()) r.close();
        if (residual != null) residual.close();
        if (sample != null) sample.close();
    }
}
