package dev.lowbit.pipeline.quantize;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.capture.LayerwiseCapture;
import dev.lowbit.calib.data.CalibrationSet;
import dev.lowbit.calib.model.Architecture;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.observe.EngineHessians;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ObservingHook;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.hf.HfModelCheck;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.model.OverlayModelSource;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.pipeline.artifact.ArtifactPlan;
import dev.lowbit.pipeline.artifact.ArtifactWriter;
import dev.lowbit.pipeline.artifact.ArtifactWriters;
import dev.lowbit.pipeline.artifact.SafetensorsArtifactWriter;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.steps.QuantizerStep;
import dev.lowbit.pipeline.steps.StepRegistry;
import dev.lowbit.pipeline.steps.StepType;
import dev.lowbit.ptq.transform.TensorSet;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * {@code lowbit quantize} for the safetensors targets, read top to bottom:
 * <pre>
 *   open model ─► plan every output tensor (the quantizer's grid per selected Linear, overrides applied)
 *             ─► writer.validate(plan) (before any heavy work) ─► tokenize calibration windows ─► writer.open
 *   transforms' model part (embedding, final norm, lm_head)
 *   data-free quantizer (rtn): per layer: tensors ─► transforms ─► quantize ─► writer.put … finishLayer
 *   calibrated (gptq, or transforms that need data): LayerwiseCapture: per layer, transforms on the captured inputs
 *         (statistics, LayerLoss), then stage by stage ({q,k,v} → {o} → {gate,up} → {down}): Hessians from inputs of
 *         the already-quantized prefix ─► quantize ─► substitute ŵ ─► next stage; after the layer: writer.put … finishLayer
 *   globals (changed ones in f32, the rest as they are) ─► writer.commit (config, recipe.json, manifest, rename)
 * </pre>
 * Tensors no step changed keep their bytes and dtype. The writer holds one layer at a time.
 */
public final class QuantizePipeline {

    private QuantizePipeline() {}

    /** Progress of a run: one line per phase/layer on stderr, or nothing. */
    public interface Listener {
        Listener NONE = msg -> {};

        void status(String message);
    }

    /**
     * Quantizes {@code model} into the directory {@code output} (replaced only with {@code force}, and only when lowbit
     * wrote it: see {@link SafeOutput}).
     *
     * @param recipeFile the recipe file the run replays, or null: an input the output must not touch
     */
    public static QuantizeReport run(Path model, Path output, Recipe recipe, Path recipeFile, boolean force, int threads,
                                     Listener listener) {
        return run(model, output, recipe, recipeFile, force, threads, listener, StepRegistry.DEFAULT);
    }

    /** {@link #run} with the step types of {@code registry}. */
    public static QuantizeReport run(Path model, Path output, Recipe recipe, Path recipeFile, boolean force, int threads,
                                     Listener listener, StepRegistry registry) {
        long t0 = System.nanoTime();
        if (dev.lowbit.io.model.ModelSource.isGguf(model)) {
            throw new BadInputException(model, "a .gguf source is re-quantized with --format gguf; GPTQ and compressed-tensors output read a Hugging Face directory");
        }
        QuantizerStep quantizer = recipe.quantizer(registry);
        List<StepType.TransformStep> transformSteps = recipe.transforms(registry);
        Timings time = new Timings();
        try (ModelSource source = ModelSource.open(model);
             TensorSource raw = ShardedSafetensors.open(model);
             ArtifactWriter writer = ArtifactWriters.forFormat(recipe.output().format())) {
            // the checkpoint as a model: every tensor against config.json, no NaN/Inf, before any work
            HfModelCheck.require(model, source.config(), raw);
            ModelArchitecture arch = ModelArchitecture.forHfClass(source.architecture(), model.toString());
            ArtifactPlan plan = plan(source, arch, recipe, quantizer);
            writer.validate(plan);
            OverlayModelSource overlay = new OverlayModelSource(source);
            LayerTransforms transforms = new LayerTransforms(transformSteps, arch, overlay, plan, recipe.seed());
            boolean calibrated = quantizer.needsCalibration() || transforms.statistics().size() > 0 || transforms.usesLoss();
            // Calibration text is tokenized before the output is created, so a short file fails early and cleanly.
            int[][] windows = null;
            if (calibrated) {
                Recipe.Calibration c = recipe.calibration();
                Path data = Path.of(c.data());
                windows = c.randomWindows()
                        ? CalibrationSet.random(model, data, c.seqlen(), c.samples(), recipe.seed())
                        : CalibrationSet.first(model, data, c.seqlen(), c.samples());
            }
            SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("MODEL", model).add("--recipe", recipeFile);
            if (recipe.calibration() != null) inputs.add("--calib", Path.of(recipe.calibration().data()));
            writer.open(output, force, inputs);
            SafeOutput out = ((SafetensorsArtifactWriter) writer).output();
            try {
                Run run = new Run(plan, raw, writer, quantizer, transforms, time, listener);
                transforms.transformModel();
                if (calibrated) run.calibrated(overlay, windows, threads);
                else run.dataFree();
                run.globals();
                // saved with the calibration file relative to the output and its sha256: replays from anywhere, no absolute path
                Recipe saved = recipe.relativeTo(out.target());
                Manifest manifest = new Manifest(saved.toJson(), recipe.seed()).input("model", modelFiles(model));
                if (recipe.calibration() != null) {
                    manifest.input("calibration", List.of(Path.of(recipe.calibration().data())));
                    manifest.figure("calibration_windows", windows == null ? 0 : windows.length);
                }
                ArtifactWriter.Committed done = writer.commit(saved, manifest);
                time.add("total", System.nanoTime() - t0);
                Map<String, Object> f = done.figures();
                return new QuantizeReport(done.path().toString(), quantizer.name(), quantizer.scheme().toString(),
                        recipe.output().format(), (Integer) f.get("quantized_modules"), (Long) f.get("quantized_parameters"),
                        (Double) f.get("linear_bits_per_weight"), done.bytes(), directoryBytes(model), time.seconds(),
                        ((Number) f.get("widened_groups")).longValue());
            } catch (IOException | RuntimeException e) {
                throw out.failure(e);
            }
        }
    }

    /**
     * Every tensor of the output: globals, then each layer's tensors in source order; a decoder Linear weight the
     * quantizer step selects gets its grid (the step's scheme, or the first matching override's).
     */
    static ArtifactPlan plan(ModelSource source, ModelArchitecture arch, Recipe recipe, QuantizerStep quantizer) {
        List<ArtifactPlan.Entry> entries = new ArrayList<>();
        List<ArtifactPlan.Entry> layers = new ArrayList<>();
        int quantized = 0;
        for (String name : source.tensorNames()) {
            var slot = arch.parseHf(name);
            int layer = slot.isPresent() ? slot.get().layer() : -1;
            QuantScheme scheme = null;
            if (quantizer != null && slot.isPresent() && !slot.get().isBias()
                    && slot.get().role().kind() == TensorRole.Kind.LINEAR) {
                String module = name.substring(0, name.length() - ".weight".length());
                if (recipe.selects(module)) {
                    scheme = recipe.schemeFor(module, quantizer.scheme());
                    quantized++;
                }
            }
            ArtifactPlan.Entry e = new ArtifactPlan.Entry(name, source.shape(name), layer, scheme, null);
            (layer < 0 ? entries : layers).add(e);
        }
        if (quantizer != null && quantized == 0) throw new BadInputException("recipe", "no Linear matches the targets/ignore patterns");
        entries.addAll(layers);
        return new ArtifactPlan(source, recipe, quantizer, entries);
    }

    /** One run's state: what is written where, layer by layer. */
    private static final class Run {
        private final ArtifactPlan plan;
        private final TensorSource raw;
        private final ArtifactWriter writer;
        private final QuantizerStep quantizer;
        private final LayerTransforms transforms;
        private final Timings time;
        private final Listener listener;
        private final int layers;

        Run(ArtifactPlan plan, TensorSource raw, ArtifactWriter writer, QuantizerStep quantizer, LayerTransforms transforms,
            Timings time, Listener listener) {
            this.plan = plan;
            this.raw = raw;
            this.writer = writer;
            this.quantizer = quantizer;
            this.transforms = transforms;
            this.time = time;
            this.listener = listener;
            this.layers = plan.source().config().numHiddenLayers();
        }

        private List<ArtifactPlan.Entry> layer(int layer) {
            return plan.entries().stream().filter(e -> e.layer() == layer).toList();
        }

        /** Data-free: per layer, transforms then the quantizer on the (transformed) f32 weights. */
        void dataFree() throws IOException {
            for (int layer = 0; layer < layers; layer++) {
                long t = System.nanoTime();
                TensorSet tensors = transforms.isEmpty() ? null : transforms.load(layer);
                if (tensors != null) transforms.transformLayer(layer, tensors, null, null);
                Map<String, QuantizedTensor> done = new LinkedHashMap<>();
                for (ArtifactPlan.Entry e : layer(layer)) {
                    if (!e.quantized()) continue;
                    long[] s = e.shape();
                    float[] w = tensors != null ? tensors.read(e.name()) : plan.source().readAll(e.name());
                    done.put(e.name(), quantizer.quantize(e.module(), e.scheme(), w, (int) s[0], (int) s[1], null, writer.zeroFloor()));
                }
                time.add("solve", System.nanoTime() - t);
                write(layer, tensors, done);
                listener.status("layer " + (layer + 1) + "/" + layers + " quantized (" + quantizer.name() + ")");
            }
        }

        /** Calibrated: LayerwiseCapture drives the layers; transforms run on each layer's captured inputs first. */
        void calibrated(OverlayModelSource overlay, int[][] windows, int threads) {
            Map<String, ArtifactPlan.Entry> byName = new HashMap<>();
            for (ArtifactPlan.Entry e : plan.quantized()) byName.put(e.name(), e);
            long captureStart = System.nanoTime();
            long[] solveAndWrite = new long[1];
            try (LlamaRunner runner = LlamaRunner.open(overlay, threads)) {
                Architecture arch = runner.config().architecture();
                boolean sequential = !quantizer.needsCalibration() || quantizer.trueSequential();
                LayerwiseCapture.run(runner, windows, 8, sequential, new LayerwiseCapture.Step() {
                    EngineHessians hessians;
                    TensorSet tensors;
                    final Map<String, QuantizedTensor> done = new LinkedHashMap<>();

                    @Override
                    public void beforeLayer(int layer, List<NDArray> inputs, LlamaRunner r) {
                        if (transforms.isEmpty()) return;
                        long t = System.nanoTime();
                        tensors = transforms.load(layer);
                        transforms.transformLayer(layer, tensors, r, inputs);
                        time.add("transform", System.nanoTime() - t);
                        solveAndWrite[0] += System.nanoTime() - t;
                    }

                    @Override
                    public List<LinearObserver> observers(int layer, Set<LinearInput> inputs) {
                        if (!quantizer.needsCalibration()) return List.of();
                        hessians = new TimedHessianObserver(time);
                        return List.of(hessians);
                    }

                    @Override
                    public void afterStage(int layer, Set<LinearInput> inputs, LlamaRunner r) {
                        long t = System.nanoTime();
                        for (LinearInput in : inputs) {
                            for (Linear l : in.readers()) {
                                ArtifactPlan.Entry e = byName.get(arch.linearName(layer, l) + ".weight");
                                if (e == null) continue;
                                long[] s = e.shape();
                                // Σ xxᵀ without GPTQ's 2/n factor: GPTQ is invariant to scaling H (damping is relative).
                                double[] h = quantizer.needsCalibration()
                                        ? hessians.get(ObservingHook.key(arch, layer, l)).sum() : null;
                                QuantizedTensor q = quantizer.quantize(e.module(), e.scheme(), r.linearWeight(layer, l),
                                        (int) s[0], (int) s[1], h, writer.zeroFloor());
                                r.setLinearWeight(layer, l, q.dequantize());
                                done.put(e.name(), q);
                            }
                        }
                        long dt = System.nanoTime() - t;
                        time.add("solve", dt);
                        solveAndWrite[0] += dt;
                    }

                    @Override
                    public void afterLayer(int layer, LlamaRunner r) {
                        long t = System.nanoTime();
                        try {
                            write(layer, tensors, done);
                        } catch (IOException ex) {
                            throw new UncheckedIOException(ex);
                        }
                        if (tensors != null) transforms.forget(tensors);
                        tensors = null;
                        done.clear();
                        solveAndWrite[0] += System.nanoTime() - t;
                        listener.status("layer " + (layer + 1) + "/" + layers + " quantized (" + quantizer.name() + ")");
                    }
                });
            }
            long capture = System.nanoTime() - captureStart - solveAndWrite[0];
            time.add("calibration_forward", capture - time.nanos("hessian"));
        }

        /**
         * A finished layer: every tensor that is not quantized — changed by a transform (f32) or as it is in the
         * source — then the quantized Linears in the order they were finished.
         */
        private void write(int layer, TensorSet tensors, Map<String, QuantizedTensor> done) throws IOException {
            long t = System.nanoTime();
            for (ArtifactPlan.Entry e : layer(layer)) {
                if (done.containsKey(e.name())) continue;
                writer.put(keptOrChanged(e.name(), tensors));
            }
            for (Map.Entry<String, QuantizedTensor> q : done.entrySet()) {
                writer.put(new ArtifactWriter.Payload.Quantized(q.getKey(), q.getValue()));
            }
            writer.finishLayer(layer);
            time.add("pack_write", System.nanoTime() - t);
        }

        private ArtifactWriter.Payload keptOrChanged(String name, TensorSet tensors) {
            if (tensors != null && tensors.changed().contains(name)) {
                return new ArtifactWriter.Payload.Floats(name, tensors.shape(name), tensors.read(name));
            }
            return new ArtifactWriter.Payload.Kept(name, raw.tensor(name));
        }

        /** Embeddings, final norm, lm_head: the transforms' versions where they changed them. */
        void globals() throws IOException {
            TensorSet g = transforms.isEmpty() ? null : transforms.globals();
            for (ArtifactPlan.Entry e : layer(-1)) writer.put(keptOrChanged(e.name(), g));
            if (g != null) {
                // a tensor a transform added (an untied lm_head)
                for (String n : g.changed()) {
                    if (!plan.source().contains(n)) writer.put(new ArtifactWriter.Payload.Floats(n, g.shape(n), g.read(n)));
                }
            }
            writer.finishLayer(-1);
        }
    }

    private static List<Path> modelFiles(Path model) throws IOException {
        try (Stream<Path> s = Files.list(model)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        }
    }

    private static long directoryBytes(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            long n = 0;
            for (Path p : s.filter(Files::isRegularFile).toList()) n += Files.size(p);
            return n;
        }
    }

    /** The engine-side Hessian observer, with its time booked under "hessian". */
    static final class TimedHessianObserver extends EngineHessians {
        private final Timings time;

        TimedHessianObserver(Timings time) {
            this.time = time;
        }

        @Override
        public void observe(String module, ai.djl.ndarray.NDArray x) {
            long t = System.nanoTime();
            super.observe(module, x);
            time.add("hessian", System.nanoTime() - t);
        }
    }

    /** Wall time per phase, in insertion order. */
    static final class Timings {
        private final Map<String, Long> nanos = new LinkedHashMap<>();

        synchronized void add(String phase, long n) {
            nanos.merge(phase, n, Long::sum);
        }

        synchronized long nanos(String phase) {
            return nanos.getOrDefault(phase, 0L);
        }

        synchronized Map<String, Double> seconds() {
            Map<String, Double> out = new LinkedHashMap<>();
            nanos.forEach((k, v) -> out.put(k, v / 1e9));
            return out;
        }
    }

}
