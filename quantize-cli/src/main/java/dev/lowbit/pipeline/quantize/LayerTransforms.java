package dev.lowbit.pipeline.quantize;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.capture.Boundary;
import dev.lowbit.calib.model.Architecture;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.observe.EngineGroupGrams;
import dev.lowbit.calib.observe.EngineHessians;
import dev.lowbit.calib.observe.EngineMeanAbs;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ModuleObservers;
import dev.lowbit.calib.observe.ObservingHook;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.model.OverlayModelSource;
import dev.lowbit.pipeline.artifact.ArtifactPlan;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.pipeline.steps.StepType;
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

    /**
     * The global tensors (embedding, final norm, lm_head unless tied), loaded on first use: only a transform that asks
     * for them (rotation) pays for their f32 copy (0.27 GB at the 7B shape with a vocabulary of 8192, 1 GB at 32000).
     */
    TensorSet globals() {
        if (globals == null) {
            globals = new TensorSet();
            for (String n : model.tensorNames()) {
                if (!n.startsWith("model.layers.")) globals.load(n, model.shape(n), model.readAll(n));
            }
        }
        return globals;
    }

    /** The global tensors if a transform asked for them ({@link #globals()}), else null: none of them changed. */
    TensorSet loadedGlobals() {
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
        if (globals != null) publish(globals);
    }

    /** Every tensor of decoder layer {@code layer} as f32, in source order. */
    TensorSet load(int layer) {
        TensorSet t = new TensorSet();
        String prefix = "model.layers." + layer + ".";
        for (String n : model.tensorNames()) if (n.startsWith(prefix)) t.load(n, model.shape(n), model.readAll(n));
        return t;
    }

    /** Each transform step's per-mapping choices ({@link WeightTransform#chosen()}) by step type; steps without any left out. */
    Map<String, Map<String, Double>> chosen() {
        Map<String, Map<String, Double>> m = new LinkedHashMap<>();
        for (Entry e : transforms) {
            Map<String, Double> c = e.transform.chosen();
            if (!c.isEmpty()) m.put(e.step.type(), c);
        }
        return m;
    }

    /** Whether every transform lets the next layer calibrate on this layer's fp outputs (and one asks for statistics). */
    boolean fullPrecisionInputs() {
        return !transforms.isEmpty() && !statistics().isEmpty() && transforms.stream().allMatch(e -> e.transform.fullPrecisionInputs());
    }

    /** Runs every transform's layer part on {@code tensors} and publishes the changes to the overlay. */
    void transformLayer(int layer, TensorSet tensors, LlamaRunner runner, Boundary inputs) {
        Boundary out = transformLayer(layer, tensors, runner, inputs, false);
        if (out != null) out.close();
    }

    /**
     * Runs every transform's layer part on {@code tensors} and publishes the changes to the overlay.
     *
     * @param runner    the calibration runner, or null for a data-free run
     * @param inputs    the layer's captured inputs (one array per batch), or null for a data-free run
     * @param fpOutputs run the statistics pass through the whole layer and return its outputs (the layer in fp, as
     *                  loaded: the next layer's inputs when {@link #fullPrecisionInputs()}), one per batch, on the
     *                  inputs' spill, owned by the caller; false: null
     */
    Boundary transformLayer(int layer, TensorSet tensors, LlamaRunner runner, Boundary inputs, boolean fpOutputs) {
        if (transforms.isEmpty()) return null;
        Boundary outputs = fpOutputs && inputs != null ? inputs.sibling() : null;
        Map<LinearInput, ChannelStatistics> stats = runner == null || statistics().isEmpty() ? Map.of()
                : observe(layer, runner, inputs, outputs);
        BlockLoss loss = runner != null && usesLoss() ? new BlockLoss(layer, runner, inputs, tensors, lossTokens(), model, plan) : null;
        try {
            for (Entry e : transforms) e.transform.transformLayer(context(layer, tensors, stats, loss, e.step));
        } catch (RuntimeException | Error ex) {
            if (outputs != null) outputs.close();
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
    private Map<LinearInput, ChannelStatistics> observe(int layer, LlamaRunner runner, Boundary inputs, Boundary outputs) {
        Set<Statistic> want = statistics();
        EngineHessians hessian = want.contains(Statistic.HESSIAN) ? new EngineHessians() : null;
        EngineGroupGrams groupGram = want.contains(Statistic.GROUP_GRAM) ? new EngineGroupGrams(gramGroup()) : null;
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
        if (groupGram != null) withGram.add(groupGram);
        ObservingHook gramHook = new ObservingHook(a, EnumSet.allOf(LinearInput.class), withGram);
        boolean[] gram = hessianBatches(inputs, hessianTokens());
        for (int i = 0; i < inputs.size(); i++) {
            NDArray out;
            try (Boundary.Batch x = inputs.open(i)) {
                out = runner.runLayer(layer, x.array(), gram[i] ? gramHook : hook, outputs == null ? LinearInput.DOWN : null);
            }
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
                    hessian == null ? null : hessian.get(key).takeSum(),
                    groupGram == null ? null : groupGram.get(key).takeSum()));
        }
        return out;
    }

    /** The group width of {@link Statistic#GROUP_GRAM}: the one every transform asking for it gives. */
    int gramGroup() {
        Integer group = null;
        for (Entry e : transforms) {
            if (!e.transform.statistics().contains(Statistic.GROUP_GRAM)) continue;
            int g = Math.max(0, e.transform.gramGroup());
            if (group != null && group != g) {
                throw new IllegalStateException("transforms ask for group Gram blocks of " + group + " and " + g + " channels");
            }
            group = g;
        }
        return group == null ? 0 : group;
    }

    /** The largest Hessian (or group Gram) sample a transform asks for (0 = all batches). */
    int hessianTokens() {
        int most = 0;
        for (Entry e : transforms) {
            if (!e.transform.statistics().contains(Statistic.HESSIAN) && !e.transform.statistics().contains(Statistic.GROUP_GRAM)) continue;
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
    static boolean[] hessianBatches(Boundary inputs, int tokens) {
        long perBatch = inputs.size() == 0 ? 1 : inputs.tokens(0);
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

}
