package dev.lowbit.pipeline.quantize;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.model.Architecture;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.observe.EngineHessians;
import dev.lowbit.calib.observe.EngineMeanAbs;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ModuleObservers;
import dev.lowbit.calib.observe.ObservingHook;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.model.OverlayModelSource;
import dev.lowbit.pipeline.artifact.ArtifactPlan;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.pipeline.steps.StepType;
import dev.lowbit.ptq.rtn.Rtn;
import dev.lowbit.ptq.transform.ChannelStatistics;
import dev.lowbit.ptq.transform.LayerContext;
import dev.lowbit.ptq.transform.LayerLoss;
import dev.lowbit.ptq.transform.ModelContext;
import dev.lowbit.ptq.transform.Statistic;
import dev.lowbit.ptq.transform.TensorSet;
import dev.lowbit.ptq.transform.WeightTransform;
import dev.lowbit.ptq.observe.MaxAbsObserver;
import dev.lowbit.ptq.observe.MeanAbsObserver;
import dev.lowbit.ptq.observe.MeanSquareObserver;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The recipe's transform steps as the pipeline runs them: the contexts a {@link WeightTransform} sees, the statistics
 * it asked for, and the {@link LayerLoss} implemented by running the layer on calibration's runner. Edited tensors go
 * into an {@link OverlayModelSource}, which the runner reads, so the quantizer and the next layer see them.
 */
final class LayerTransforms {
    /** One transform with the recipe step it came from (its targets/ignore). */
    record Entry(Step step, WeightTransform transform) {}

    private final List<Entry> transforms;
    private final ModelArchitecture arch;
    private final OverlayModelSource model;
    private final ArtifactPlan plan;
    private final long seed;
    private TensorSet globals;

    LayerTransforms(List<StepType.TransformStep> steps, ModelArchitecture arch, OverlayModelSource model, ArtifactPlan plan,
                    long seed) {
        List<Entry> list = new ArrayList<>();
        for (StepType.TransformStep s : steps) list.add(new Entry(s.step(), s.transform()));
        this.transforms = List.copyOf(list);
        this.arch = arch;
        this.model = model;
        this.plan = plan;
        this.seed = seed;
    }

    boolean isEmpty() {
        return transforms.isEmpty();
    }

    /** The union of the statistics the transforms asked for. */
    Set<Statistic> statistics() {
        Set<Statistic> s = EnumSet.noneOf(Statistic.class);
        for (Entry e : transforms) s.addAll(e.transform.statistics());
        return s;
    }

    boolean usesLoss() {
        return transforms.stream().anyMatch(e -> e.transform.usesLoss());
    }

    /** The global tensors (embedding, final norm, lm_head unless tied), loaded on first use. */
    TensorSet globals() {
        if (globals == null) {
            globals = new TensorSet();
            for (String n : model.tensorNames()) {
                if (!n.startsWith("model.layers.")) globals.load(n, model.shape(n), model.readAll(n));
            }
        }
        return globals;
    }

    /** Runs every transform's model part, then puts changed globals into the overlay (layer 0 embeds from it). */
    void transformModel() {
        if (transforms.isEmpty()) return;
        ModelContext ctx = new ModelContext() {
            @Override
            public ModelArchitecture architecture() {
                return arch;
            }

            @Override
            public int layers() {
                return model.config().numHiddenLayers();
            }

            @Override
            public int hidden() {
                return model.config().hiddenSize();
            }

            @Override
            public boolean tied() {
                return model.config().tieWordEmbeddings();
            }

            @Override
            public dev.lowbit.io.arch.ModelDims dims() {
                return dev.lowbit.io.arch.ModelDims.of(model.config(), model.path().toString());
            }

            @Override
            public TensorSet globals() {
                return LayerTransforms.this.globals();
            }

            @Override
            public long seed() {
                return seed;
            }
        };
        for (Entry e : transforms) e.transform.transformModel(ctx);
        publish(globals());
    }

    /** Every tensor of decoder layer {@code layer} as f32, in source order. */
    TensorSet load(int layer) {
        TensorSet t = new TensorSet();
        String prefix = "model.layers." + layer + ".";
        for (String n : model.tensorNames()) if (n.startsWith(prefix)) t.load(n, model.shape(n), model.readAll(n));
        return t;
    }

    /** Whether every transform lets the next layer calibrate on this layer's fp outputs (and one asks for statistics). */
    boolean fullPrecisionInputs() {
        return !transforms.isEmpty() && !statistics().isEmpty() && transforms.stream().allMatch(e -> e.transform.fullPrecisionInputs());
    }

    /** Runs every transform's layer part on {@code tensors} and publishes the changes to the overlay. */
    void transformLayer(int layer, TensorSet tensors, LlamaRunner runner, List<NDArray> inputs) {
        List<NDArray> out = transformLayer(layer, tensors, runner, inputs, false);
        if (out != null) out.forEach(NDArray::close);
    }

    /**
     * Runs every transform's layer part on {@code tensors} and publishes the changes to the overlay.
     *
     * @param runner    the calibration runner, or null for a data-free run
     * @param inputs    the layer's captured inputs (one array per batch), or null for a data-free run
     * @param fpOutputs run the statistics pass through the whole layer and return its outputs (the layer in fp, as
     *                  loaded: the next layer's inputs when {@link #fullPrecisionInputs()}), one per batch, owned by the
     *                  caller; false: null
     */
    List<NDArray> transformLayer(int layer, TensorSet tensors, LlamaRunner runner, List<NDArray> inputs, boolean fpOutputs) {
        if (transforms.isEmpty()) return null;
        List<NDArray> outputs = fpOutputs ? new ArrayList<>() : null;
        Map<LinearInput, ChannelStatistics> stats = runner == null || statistics().isEmpty() ? Map.of()
                : observe(layer, runner, inputs, outputs);
        BlockLoss loss = runner != null && usesLoss() ? new BlockLoss(layer, runner, inputs, tensors, lossTokens()) : null;
        try {
            for (Entry e : transforms) e.transform.transformLayer(context(layer, tensors, stats, loss, e.step));
        } catch (RuntimeException | Error ex) {
            if (outputs != null) outputs.forEach(NDArray::close);
            throw ex;
        } finally {
            if (loss != null) loss.close();
        }
        publish(tensors);
        if (runner != null) runner.releaseLayer(layer);
        return outputs;
    }

    /**
     * Puts the changed tensors into the overlay the runner reads. They are scanned for NaN/Inf here, once: the source was
     * scanned by the model check, so a non-finite value now is the transform's, named with its tensor.
     */
    private void publish(TensorSet t) {
        for (String n : t.changed()) {
            float[] v = t.read(n);
            for (int i = 0; i < v.length; i++) {
                if (!Float.isFinite(v[i])) {
                    throw new dev.lowbit.io.BadInputException(n, "a transform step made element " + i + " " + v[i]
                            + " (statistics or scales out of range for this model)");
                }
            }
            model.put(n, t.shape(n), v);
        }
    }

    /** Drops a written layer's replacements from the overlay. */
    void forget(TensorSet t) {
        for (String n : t.changed()) model.remove(n);
    }

    private LayerContext context(int layer, TensorSet tensors, Map<LinearInput, ChannelStatistics> stats, BlockLoss loss, Step step) {
        return new LayerContext() {
            @Override
            public int layer() {
                return layer;
            }

            @Override
            public ModelArchitecture architecture() {
                return arch;
            }

            @Override
            public TensorSet tensors() {
                return tensors;
            }

            @Override
            public ChannelStatistics statistics(TensorRole linear) {
                if (stats.isEmpty()) throw new IllegalStateException("no transform of this recipe asked for statistics");
                return stats.get(inputOf(linear));
            }

            @Override
            public boolean selected(TensorRole linear) {
                return step.selects(new ModelArchitecture.Slot(linear, layer, "weight").hfName().replaceFirst("\\.weight$", ""));
            }

            @Override
            public LayerLoss loss() {
                if (loss == null) throw new IllegalStateException("this transform did not declare usesLoss(), or the recipe has no calibration data");
                return loss;
            }

            @Override
            public TensorSet globals() {
                return LayerTransforms.this.globals();
            }
        };
    }

    static LinearInput inputOf(TensorRole role) {
        for (Linear l : Linear.values()) if (Architecture.role(l) == role) return l.input();
        throw new IllegalArgumentException(role + " is not a Linear");
    }

    /**
     * The requested statistics of every Linear input of the layer as it stands, over all captured windows (the Hessian
     * over the batches {@link #hessianBatches} picks). With {@code outputs} non-null the layer runs to its end and its
     * output per batch is added there; else it stops at down_proj's input.
     */
    private Map<LinearInput, ChannelStatistics> observe(int layer, LlamaRunner runner, List<NDArray> inputs, List<NDArray> outputs) {
        Set<Statistic> want = statistics();
        EngineHessians hessian = want.contains(Statistic.HESSIAN) ? new EngineHessians() : null;
        ModuleObservers<MaxAbsObserver> maxAbs = want.contains(Statistic.MAX_ABS) ? new ModuleObservers<>(MaxAbsObserver::new) : null;
        ModuleObservers<MeanSquareObserver> meanSquare = want.contains(Statistic.MEAN_SQUARE) ? new ModuleObservers<>(MeanSquareObserver::new) : null;
        // on the engine: only the column sums come to the heap, not every input (65536 × 3072 floats a layer at 128 windows)
        ModuleObservers<MeanAbsObserver> meanAbs = want.contains(Statistic.MEAN_ABS) ? new EngineMeanAbs() : null;
        List<LinearObserver> observers = new ArrayList<>();
        for (LinearObserver o : new LinearObserver[] {maxAbs, meanSquare, meanAbs}) if (o != null) observers.add(o);
        Architecture a = runner.config().architecture();
        ObservingHook hook = new ObservingHook(a, EnumSet.allOf(LinearInput.class), observers);
        List<LinearObserver> withGram = new ArrayList<>(observers);
        if (hessian != null) withGram.add(hessian);
        ObservingHook gramHook = new ObservingHook(a, EnumSet.allOf(LinearInput.class), withGram);
        boolean[] gram = hessianBatches(inputs, hessianTokens());
        for (int i = 0; i < inputs.size(); i++) {
            NDArray out = runner.runLayer(layer, inputs.get(i), gram[i] ? gramHook : hook, outputs == null ? LinearInput.DOWN : null);
            if (outputs != null) outputs.add(out);
        }
        Map<LinearInput, ChannelStatistics> out = new LinkedHashMap<>();
        for (LinearInput in : LinearInput.values()) {
            String key = ObservingHook.key(a, layer, in.readers().getFirst());
            long tokens = 0;
            for (ModuleObservers<?> o : java.util.Arrays.asList(meanSquare, meanAbs, maxAbs)) {
                if (o != null && o.modules().contains(key)) {
                    tokens = o.get(key).tokens();
                    break;
                }
            }
            out.put(in, new ChannelStatistics(tokens,
                    meanAbs == null ? null : meanAbs.get(key).meanAbs(),
                    maxAbs == null ? null : toDouble(maxAbs.get(key).maxAbs()),
                    want.contains(Statistic.MEAN_SQUARE) ? meanSquare.get(key).meanSquare() : null,
                    hessian == null ? null : hessian.get(key).sum()));
        }
        return out;
    }

    /** The largest Hessian sample a transform asks for (0 = all batches). */
    int hessianTokens() {
        int most = 0;
        for (Entry e : transforms) {
            if (!e.transform.statistics().contains(Statistic.HESSIAN)) continue;
            int t = e.transform.hessianTokens();
            if (t <= 0) return 0;
            most = Math.max(most, t);
        }
        return most;
    }

    /**
     * Which capture batches feed the Hessian: all when {@code tokens} is 0 or covers them, else ⌈tokens / batch
     * tokens⌉ evenly spaced ones (i·n/k, i = 0..k−1), so the sample spans the calibration text.
     */
    static boolean[] hessianBatches(List<NDArray> inputs, int tokens) {
        long perBatch = inputs.isEmpty() ? 1 : inputs.getFirst().getShape().get(0) * inputs.getFirst().getShape().get(1);
        return hessianBatches(inputs.size(), perBatch, tokens);
    }

    static boolean[] hessianBatches(int n, long perBatch, int tokens) {
        boolean[] pick = new boolean[n];
        int k = tokens <= 0 ? n : (int) Math.min(n, Math.ceilDiv(tokens, perBatch));
        for (int i = 0; i < k; i++) pick[(int) ((long) i * n / k)] = true;
        return pick;
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /** The number of tokens the block losses sample: the largest a transform asks for (0 = all windows). */
    int lossTokens() {
        int most = -1;
        for (Entry e : transforms) {
            if (!e.transform.usesLoss()) continue;
            int t = e.transform.lossTokens();
            if (t <= 0) return 0;
            most = Math.max(most, t);
        }
        return Math.max(most, 0);
    }

    /** The tensor roles the sub-block {@code block} reads (its fingerprint and the overlay it needs). */
    private static final Map<LayerLoss.Block, List<TensorRole>> BLOCK_ROLES = Map.of(
            LayerLoss.Block.ATTENTION, List.of(TensorRole.INPUT_NORM, TensorRole.Q, TensorRole.K, TensorRole.V, TensorRole.O,
                    TensorRole.Q_NORM, TensorRole.K_NORM),
            LayerLoss.Block.MLP, List.of(TensorRole.POST_ATTENTION_NORM, TensorRole.GATE, TensorRole.UP, TensorRole.DOWN),
            LayerLoss.Block.DOWN, List.of(TensorRole.POST_ATTENTION_NORM, TensorRole.GATE, TensorRole.UP, TensorRole.DOWN));

    /**
     * The losses of {@link LayerLoss} on calibration's runner. The whole-layer loss swaps the candidate into the overlay,
     * runs the layer on every captured batch and puts the layer back as it was. The sub-block loss runs only the block a
     * mapping scales, on a sample of whole windows (evenly spaced over the captured ones): the attention block on the
     * sampled layer inputs; the MLP on the post-attention norm of the sampled residual stream x + attention(x) (computed
     * once: the transforms are function-preserving); down_proj alone as one matmul on its cached input
     * silu(gate)·up. References are recomputed whenever the block's current tensors changed (a fold).
     */
    final class BlockLoss implements LayerLoss, AutoCloseable {
        private final int layer;
        private final LlamaRunner runner;
        private final List<NDArray> inputs;
        private final TensorSet current;
        private final int sampleTokens;
        private List<NDArray> reference;
        private NDArray sample;   // [W, T, D] sampled layer inputs
        private NDArray residual; // [W·T, D] sample + attention(sample)
        /** Per block: the fingerprint of its current tensors, its input (MLP: m; DOWN: down's input) and fp output. */
        private final Map<LayerLoss.Block, Ref> refs = new java.util.EnumMap<>(LayerLoss.Block.class);
        /** Overlay entries the references replaced: their values before (null: not replaced), restored on close. */
        private final Map<String, float[]> saved = new LinkedHashMap<>();

        /** DOWN: {@code input} is down_proj's input A on the sample, {@code gram} Aᵀ·A, {@code output} unused (null). */
        private record Ref(long fingerprint, NDArray input, float[] output, NDArray gram) {
            Ref(long fingerprint, NDArray input, float[] output) {
                this(fingerprint, input, output, null);
            }

            void close() {
                if (input != null) input.close();
                if (gram != null) gram.close();
            }
        }

        BlockLoss(int layer, LlamaRunner runner, List<NDArray> inputs, TensorSet current, int sampleTokens) {
            this.layer = layer;
            this.runner = runner;
            this.inputs = inputs;
            this.current = current;
            this.sampleTokens = sampleTokens;
        }

        @Override
        public double loss(TensorSet candidate, boolean fakeQuantize) {
            if (reference == null) {
                reference = new ArrayList<>();
                for (NDArray h : inputs) reference.add(runner.runLayer(layer, h, (l, in, x) -> {}));
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
                    try (NDArray out = runner.runLayer(layer, inputs.get(i), (l, in, x) -> {});
                         NDArray diff = out.sub(reference.get(i))) {
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
            Ref ref = reference(block);
            for (TensorRole r : weights.keySet()) {
                if (!BLOCK_ROLES.get(block).contains(r) || r.kind() != TensorRole.Kind.LINEAR) {
                    throw new IllegalArgumentException(r + " is not a Linear of the " + block + " block");
                }
            }
            float[] out;
            if (block == LayerLoss.Block.DOWN) {
                float[] w = weights.get(TensorRole.DOWN);
                return w == null ? 0 : downLoss(ref, w);
            } else {
                // the block's current tensors are in the overlay (reference); only the candidate Linears are swapped
                List<Linear> swapped = new ArrayList<>();
                try {
                    for (Map.Entry<TensorRole, float[]> e : weights.entrySet()) {
                        Linear l = linearOf(e.getKey());
                        runner.setLinearWeight(layer, l, e.getValue());
                        swapped.add(l);
                    }
                    out = run(block, ref.input());
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
            if (ref != null) ref.close();
            for (Map.Entry<String, float[]> e : cur.entrySet()) {
                String n = e.getKey();
                if (!saved.containsKey(n)) saved.put(n, model.isReplaced(n) ? model.readAll(n) : null);
                model.put(n, model.shape(n), e.getValue());
            }
            runner.releaseLayer(layer);
            Ref fresh = switch (block) {
                case ATTENTION -> new Ref(fp, null, run(block, null));
                case MLP -> {
                    NDArray m = runner.mlpInput(layer, residual());
                    yield new Ref(fp, m, run(block, m));
                }
                case DOWN -> {
                    try (NDArray m = runner.mlpInput(layer, residual())) {
                        NDArray act = runner.downInput(layer, m);
                        yield new Ref(fp, act, null, act.transpose().matMul(act));
                    }
                }
            };
            refs.put(block, fresh);
            return fresh;
        }

        /** The sampled windows of the layer input, {@code [W, T, D]}: W = ⌈tokens / T⌉ evenly spaced (all when 0). */
        private NDArray sample() {
            if (sample != null) return sample;
            List<NDArray> windows = new ArrayList<>();
            for (NDArray b : inputs) for (long i = 0; i < b.getShape().get(0); i++) windows.add(b.get(i));
            int n = windows.size();
            long t = inputs.getFirst().getShape().get(1);
            int w = sampleTokens <= 0 ? n : (int) Math.min(n, Math.ceilDiv(sampleTokens, t));
            ai.djl.ndarray.NDList picked = new ai.djl.ndarray.NDList();
            for (int i = 0; i < w; i++) picked.add(windows.get((int) ((long) i * n / w)));
            sample = ai.djl.ndarray.NDArrays.stack(picked);
            windows.forEach(NDArray::close);
            return sample;
        }

        /** x + attention(x) on the sample, {@code [W·T, D]} (the fp residual stream before the MLP). */
        private NDArray residual() {
            if (residual != null) return residual;
            NDArray s = sample();
            try (NDArray a = runner.attention(layer, s)) {
                residual = a.add(s.reshape(a.getShape()));
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
         * down_proj alone is linear, so its output error needs no forward: with A its sampled input (N tokens) and
         * ΔW = W' − W (D outputs),
         * <pre>
         *   1/(N·D) · Σ_t ‖(W' − W)·a_t‖²  =  1/(N·D) · Σ_{r,c} (ΔW·AᵀA)_{rc} · ΔW_{rc}
         * </pre>
         * one D×K·K×K product per candidate on the Gram matrix AᵀA (formed once) instead of an N×K·K×D one
         * (K = 1536 inputs, N = 4096 sampled tokens at tiny-llama-code: 2.4 instead of 6.4 GFLOP).
         */
        private double downLoss(Ref ref, float[] w) {
            String n = name(TensorRole.DOWN);
            long[] shape = current.shape(n);
            float[] cur = current.read(n);
            float[] delta = new float[w.length];
            for (int i = 0; i < w.length; i++) delta[i] = w[i] - cur[i];
            try (NDArray d = runner.manager().create(delta, new ai.djl.ndarray.types.Shape(shape[0], shape[1]));
                 NDArray dg = d.matMul(ref.gram());
                 NDArray prod = dg.mul(d);
                 NDArray sum = prod.sum()) {
                long tokens = ref.input().getShape().get(0);
                return sum.getFloat() / ((double) tokens * shape[0]);
            }
        }

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
         * Round to nearest onto the module's planned grid, dequantized: the integer (or other) scheme's RTN, or a GGUF
         * type's own search row by row; tensors the quantizer does not quantize stay as they are.
         */
        private float[] fakeQuantized(String name, long[] shape, float[] v) {
            for (ArtifactPlan.Entry e : plan.quantized()) {
                if (!e.name().equals(name)) continue;
                int rows = Math.toIntExact(shape[0]), cols = Math.toIntExact(shape[1]);
                if (e.scheme() != null) return Rtn.rtn(e.module(), v, rows, cols, e.scheme()).dequantize();
                var codec = dev.lowbit.io.ggml.BlockCodecs.forType(e.ggml());
                long rowBytes = codec.rowBytes(cols);
                var seg = java.lang.foreign.MemorySegment.ofArray(new byte[Math.toIntExact(rowBytes)]);
                float[] out = new float[v.length];
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
            if (reference != null) reference.forEach(NDArray::close);
            for (Ref r : refs.values()) r.close();
            if (residual != null) residual.close();
            if (sample != null) sample.close();
        }
    }
}
