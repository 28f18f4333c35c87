package dev.lowbit.pipeline.quantize;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.capture.ActivationSpill;
import dev.lowbit.calib.capture.Boundary;
import dev.lowbit.calib.capture.LayerwiseCapture;
import dev.lowbit.calib.observe.ModuleObservers;
import dev.lowbit.ptq.observe.HessianObserver;
import dev.lowbit.ptq.observe.PackedSymmetric;
import dev.lowbit.ptq.observe.MeanSquareObserver;
import dev.lowbit.calib.data.CalibrationSet;
import dev.lowbit.calib.model.Architecture;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.observe.EngineHessians;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ObservingHook;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.FiniteScan;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.hf.HfModelCheck;
import dev.lowbit.io.model.GgufModelSource;
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
import dev.lowbit.pipeline.gguf.GgufArtifactWriter;
import dev.lowbit.pipeline.gguf.GgufGptq;
import dev.lowbit.pipeline.gguf.GgufQuantizeReport;
import dev.lowbit.pipeline.gguf.GgufRecipes;
import dev.lowbit.pipeline.gguf.ImatrixCalibration;
import dev.lowbit.io.imatrix.Imatrix;
import java.lang.foreign.MemorySegment;
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
 * {@code lowbit quantize} (and {@code lowbit convert}): one pipeline from any {@link ModelSource} (a Hugging Face
 * directory or a {@code .gguf}) through the recipe's steps into any {@link ArtifactWriter}, read top to bottom:
 * <pre>
 *   plan every output tensor (the quantizer's grid per selected Linear, overrides applied; GGUF: the mix allocator's
 *        ggml type per tensor) ─► writer.validate(plan) before any heavy work ─► tokenize calibration ─► writer.open
 *   transforms' model part (embedding, final norm, lm_head)
 *   data-free quantizer (rtn): per layer: tensors ─► transforms ─► quantize (GGUF: the writer rounds with the type's
 *        own search) ─► writer.put … finishLayer
 *   calibrated (gptq, or transforms that need data): LayerwiseCapture: per layer, transforms on the captured inputs
 *        (statistics, LayerLoss), then stage by stage ({q,k,v} → {o} → {gate,up} → {down}): Hessians from inputs of
 *        the already-quantized prefix ─► GPTQ onto the Linear's grid (integer scheme, or its ggml type) ─► substitute ŵ
 *        ─► next stage; after the layer: writer.put … finishLayer
 *   globals (changed ones as f32, the rest as they are) ─► writer.commit (config, recipe, manifest, rename)
 * </pre>
 * Tensors no step changed keep their bytes (safetensors: also their dtype). The writer holds one layer at a time.
 */
public final class QuantizePipeline {

    private QuantizePipeline() {}

    /** Progress of a run: one line per phase/layer on stderr, or nothing. */
    public interface Listener {
        Listener NONE = msg -> {};

        void status(String message);

        /**
         * Layer {@code done} of {@code total} is finished ({@code what}: "quantized (gptq)", …), after {@code tokens}
         * calibration tokens went through it (0 when the run is data-free). By default one {@link #status} line.
         */
        default void layer(int done, int total, String what, long tokens) {
            status("layer " + done + "/" + total + " " + what);
        }
    }

    /**
     * Where and how a run writes.
     *
     * @param output  the output path (a directory, or a file for GGUF)
     * @param force   replace an output lowbit wrote
     * @param inputs  the run's inputs, which the output may not touch
     * @param threads PyTorch / encoding threads (outputs do not depend on it)
     */
    public record Options(Path output, boolean force, SafeOutput.Inputs inputs, int threads, StepRegistry registry, boolean resume,
                          Manifest.Digests modelDigests) {
        public Options(Path output, boolean force, SafeOutput.Inputs inputs, int threads, StepRegistry registry, boolean resume) {
            this(output, force, inputs, threads, registry, resume, null);
        }

        public Options(Path output, boolean force, SafeOutput.Inputs inputs, int threads, StepRegistry registry) {
            this(output, force, inputs, threads, registry, false, null);
        }
    }

    /**
     * What a run wrote, with wall time by phase and what the transform steps chose per mapping
     * ({@link QuantizeReport#CHOSEN}; empty when none searched).
     */
    public record Result(ArtifactWriter.Committed committed, QuantizerStep quantizer, Map<String, Double> seconds,
                         Map<String, Map<String, Double>> chosen) {}

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
        return run(model, output, recipe, recipeFile, force, threads, listener, registry, false);
    }

    /**
     * {@link #run}; with {@code resume}, an interrupted run's finished layers on the same output are kept and the run
     * continues after the last one ({@link LayerJournal}; safetensors formats, recipes without transform steps).
     */
    public static QuantizeReport run(Path model, Path output, Recipe recipe, Path recipeFile, boolean force, int threads,
                                     Listener listener, StepRegistry registry, boolean resume) {
        if (recipe.output().isGguf()) throw new IllegalArgumentException("a gguf recipe runs through runGguf");
        if (ModelSource.isGguf(model)) {
            throw new BadInputException(model, "a .gguf source is re-quantized with --format gguf; GPTQ and compressed-tensors output read a Hugging Face directory");
        }
        SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("MODEL", model).add("--recipe", recipeFile);
        if (recipe.calibration() != null) inputs.add("--calib", Path.of(recipe.calibration().data()));
        try (ModelSource source = ModelSource.open(model);
             ArtifactWriter writer = ArtifactWriters.forFormat(recipe.output().format())) {
            Result r = run(source, recipe, writer, new Options(output, force, inputs, threads, registry, resume), listener);
            Map<String, Object> f = r.committed().figures();
            QuantizerStep q = r.quantizer();
            return new QuantizeReport(r.committed().path().toString(), q == null ? "none" : q.name(),
                    q == null ? "fp" : q.scheme().toString(), recipe.output().format(),
                    ((Number) f.get("quantized_modules")).intValue(), ((Number) f.get("quantized_parameters")).longValue(),
                    ((Number) f.get("linear_bits_per_weight")).doubleValue(), r.committed().bytes(), directoryBytes(model),
                    r.seconds(), ((Number) f.get("widened_groups")).longValue(), r.chosen().isEmpty() ? null : r.chosen());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A GGUF file for llama.cpp from a Hugging Face directory or a {@code .gguf}: the GGUF writer with llama-quantize's
     * mix allocator, and the recipe's quantizer — {@code rtn} (each type's own search, weighted by an importance
     * matrix read from {@code output.imatrix} or computed from the calibration text) or {@code gptq} (GPTQ onto each
     * Linear's type, Hessians from the calibration text).
     */
    public static GgufQuantizeReport runGguf(Path model, Path output, Recipe recipe, Path recipeFile, boolean force,
                                             int threads, Listener listener) {
        long t0 = System.nanoTime();
        if (!recipe.output().isGguf()) throw new IllegalArgumentException("not a gguf recipe");
        Recipe.Calibration cal = recipe.calibration();
        Path imatrixFile = recipe.output().imatrix() == null ? null : Path.of(recipe.output().imatrix());
        if (cal != null && imatrixFile != null) throw new BadInputException("--calib", "give either --imatrix or --calib, not both");
        GgufGptq.GptqOptions gptq = GgufRecipes.gptq(recipe);
        if (gptq != null && imatrixFile != null) {
            throw new BadInputException("--imatrix", "--method gptq computes its own Hessians from --calib; an importance matrix does not apply");
        }
        if (gptq != null && cal == null) throw new BadInputException("--method gptq", "needs calibration text (--calib FILE)");
        if (imatrixFile != null && !recipe.transforms(StepRegistry.DEFAULT).isEmpty()) {
            throw new BadInputException("--imatrix", "an importance matrix of the source model does not describe the inputs the "
                    + "transformed Linears read (awq, smooth, rotate steps); give --calib and it is measured after the transforms");
        }
        GgufArtifactWriter.Target target = GgufRecipes.target(recipe);
        SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("MODEL", model).add("--imatrix", imatrixFile)
                .add("--recipe", recipeFile).add("--calib", cal == null ? null : Path.of(cal.data()));
        // A .gguf quantized data-free (no calibration, no transform: nothing is computed from the weights but the
        // written blocks) is read twice, not three times: its NaN/Inf scan rides on the pass that hashes it for the
        // manifest, on that thread, and the run stops at the next layer once it fails (or at the latest before the
        // output is committed). Otherwise the model's SHA-256 starts first, beside the scan at open and the plan.
        boolean scanWhileHashing = ModelSource.isGguf(model) && cal == null && gptq == null
                && recipe.transforms(StepRegistry.DEFAULT).isEmpty();
        Manifest.Digests modelDigests = null;
        if (!scanWhileHashing) {
            try {
                modelDigests = Manifest.digestInBackground(modelFiles(model));
            } catch (IOException e) {
                modelDigests = null;  // ModelSource.open below says what is wrong with the model
            }
        }
        try (ModelSource source = scanWhileHashing ? GgufModelSource.openUnscanned(model) : ModelSource.open(model)) {
            if (scanWhileHashing) {
                FiniteScan.Stream scan = FiniteScan.stream(((GgufModelSource) source).file());
                modelDigests = Manifest.digestInBackground(List.of(model), new Manifest.RangeCheck() {
                    @Override
                    public void check(int index, MemorySegment bytes, long base, long from, long to) {
                        scan.check(bytes, base, from, to);
                    }

                    @Override
                    public void finish() {
                        scan.finish();
                    }
                });
            }
            Imatrix imatrix = imatrixFile != null ? Imatrix.read(imatrixFile)
                    : cal != null && gptq == null ? ImatrixCalibration.compute(source, Path.of(cal.data()), cal.seqlen(), cal.samples(), threads)
                    : null;
            String imatrixName = imatrix == null ? null : imatrixFile != null ? imatrixFile.toString() : "calibration " + cal.data();
            try (GgufArtifactWriter writer = new GgufArtifactWriter(target, imatrix, imatrixName, threads)) {
                Result r = run(source, recipe, writer, new Options(output, force, inputs, threads, StepRegistry.DEFAULT, false, modelDigests), listener);
                return writer.report(r.committed(), (System.nanoTime() - t0) / 1e9);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The one pipeline: {@code source} through the recipe's transforms and quantizer into {@code writer}. */
    public static Result run(ModelSource source, Recipe recipe, ArtifactWriter writer, Options o, Listener listener)
            throws IOException {
        long t0 = System.nanoTime();
        StepRegistry registry = o.registry();
        QuantizerStep quantizer = recipe.quantizer(registry);
        List<StepType.TransformStep> transformSteps = recipe.transforms(registry);
        Timings time = new Timings();
        boolean gguf = writer instanceof GgufArtifactWriter;
        try (TensorSource raw = gguf ? null : ShardedSafetensors.open(source.path())) {
            ModelArchitecture arch = ModelArchitecture.forHfClass(source.architecture(), source.path().toString());
            // llama.cpp, transformers and vLLM apply no online Hadamard: a checkpoint that needs one is refused before any work
            // (the dequantized format is lowbit's own runtime-only output: it keeps the record and may carry them)
            if (!dev.lowbit.pipeline.recipe.Output.DEQUANTIZED.equals(recipe.output().format())) {
                dev.lowbit.io.arch.OnlineRotation.refuse(source.config(), source.path().resolve("config.json").toString(),
                        "--format " + recipe.output().format());
            }
            dev.lowbit.io.hf.LowbitDequantized.refuse(source.config().raw(), source.path().resolve("config.json").toString(), "quantize");
            if (raw != null) {
                // the checkpoint as a model: every tensor against config.json, no NaN/Inf, before any work
                HfModelCheck.require(source.path(), source.config(), raw);
            }
            ArtifactPlan plan = writer instanceof GgufArtifactWriter g ? g.plan(source, recipe, quantizer)
                    : plan(source, arch, recipe, quantizer);
            writer.validate(plan);
            OverlayModelSource overlay = new OverlayModelSource(source);
            LayerTransforms transforms = new LayerTransforms(transformSteps, arch, overlay, plan, recipe.seed());
            boolean calibrated = (quantizer != null && quantizer.needsCalibration()) || !transforms.statistics().isEmpty()
                    || transforms.usesLoss() || recipe.staticInputActivations();
            // Calibration text is tokenized before the output is created, so a short file fails early and cleanly.
            int[][] windows = null;
            if (calibrated) {
                Recipe.Calibration c = recipe.calibration();
                Path data = Path.of(c.data());
                windows = c.randomWindows()
                        ? CalibrationSet.random(source.path(), data, c.seqlen(), c.samples(), recipe.seed())
                        : CalibrationSet.first(source, data, c.seqlen(), c.samples());
            }
            if (o.resume()) {
                if (!(writer instanceof SafetensorsArtifactWriter sw)) {
                    throw new BadInputException("--resume", "applies to the safetensors formats (gptq, compressed-tensors, awq); the GGUF writer keeps no journal yet");
                }
                if (!transforms.isEmpty()) {
                    throw new BadInputException("--resume", "a recipe with transform steps (awq, smooth, rotate) cannot resume yet: run it whole");
                }
                sw.openResumable(o.output(), o.force(), o.inputs());
            } else {
                writer.open(o.output(), o.force(), o.inputs());
            }
            SafeOutput out = writer instanceof GgufArtifactWriter g ? g.output() : ((SafetensorsArtifactWriter) writer).output();
            Manifest.Digests modelDigests = o.modelDigests() != null ? o.modelDigests() : Manifest.digestInBackground(modelFiles(source.path()));
            try {
                Run run = new Run(plan, raw, writer, quantizer, gguf ? GgufRecipes.gptq(recipe) : null, transforms, time, listener);
                run.digests = modelDigests;
                run.inputScales = recipe.staticInputActivations();
                if (o.resume()) {
                    int layers = source.config().numHiddenLayers();
                    run.journal = new LayerJournal(out.path(), recipe.toJson() + source.path().toRealPath() + "\n");
                    run.first = run.journal.open(out.adopted(), (SafetensorsArtifactWriter) writer, layers);
                    if (run.first > 0) listener.status("resuming: layers 1-" + run.first + " of " + layers + " were finished by the interrupted run");
                }
                transforms.transformModel();
                if (calibrated) run.calibrated(overlay, windows, o.threads());
                else run.dataFree();
                run.globals();
                // saved with the calibration file relative to the output and its sha256: replays from anywhere, no absolute path
                Recipe saved = recipe.relativeTo(gguf ? out.target().getParent() : out.target());
                Manifest manifest = new Manifest(saved.toJson(), recipe.seed()).input("model", modelDigests);
                if (recipe.output().imatrix() != null) manifest.input("imatrix", List.of(Path.of(recipe.output().imatrix())));
                Map<String, Map<String, Double>> chosen = transforms.chosen();
                if (!chosen.isEmpty()) manifest.figure(QuantizeReport.CHOSEN, chosen);
                if (recipe.calibration() != null) {
                    manifest.input("calibration", List.of(Path.of(recipe.calibration().data())));
                    if (!gguf) manifest.figure("calibration_windows", windows == null ? 0 : windows.length);
                }
                ArtifactWriter.Committed done = writer.commit(saved, manifest);
                time.add("total", System.nanoTime() - t0);
                return new Result(done, quantizer, time.seconds(), chosen);
            } catch (IOException | RuntimeException e) {
                throw out.failure(e);
            }
        }
    }

    /**
     * Every tensor of a safetensors output: globals, then each layer's tensors in source order; a decoder Linear weight
     * the quantizer step selects gets its grid (the step's scheme, or the first matching override's).
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
            ArtifactPlan.Entry e = new ArtifactPlan.Entry(name, source.shape(name), layer,
                    slot.map(ModelArchitecture.Slot::role).orElse(null), scheme, null);
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
        private final GgufGptq.GptqOptions ggufGptq;
        /** The model's digests, when a check rides on their pass (polled after each layer), else null. */
        Manifest.Digests digests;
        private final LayerTransforms transforms;
        private final Timings time;
        private final Listener listener;
        private final int layers;

        /**
         * @param raw      the source's safetensors (unchanged tensors are copied with their bytes), null for GGUF
         * @param ggufGptq GPTQ into GGUF settings when the writer is GGUF and the quantizer gptq, else null
         */
        Run(ArtifactPlan plan, TensorSource raw, ArtifactWriter writer, QuantizerStep quantizer, GgufGptq.GptqOptions ggufGptq,
            LayerTransforms transforms, Timings time, Listener listener) {
            this.plan = plan;
            this.raw = raw;
            this.writer = writer;
            this.quantizer = quantizer;
            this.ggufGptq = ggufGptq;
            this.transforms = transforms;
            this.time = time;
            this.listener = listener;
            this.layers = plan.source().config().numHiddenLayers();
            this.name = quantizer == null ? "transforms only" : quantizer.name();
            this.hessian = quantizer != null && quantizer.needsCalibration();
        }

        private final String name;
        /**
         * Static per-tensor input activations (W8A8 static): each quantized Linear's {@code input_scale} = max |x| over
         * the calibration windows / 127.5 (compressed-tensors' symmetric {@code calculate_qparams}: max / (255 / 2)),
         * x being the input the Linear reads in this run (after the transforms, previous layers quantized).
         */
        boolean inputScales;
        /** {@code --resume}: the journal of finished layers, and the first layer this run does (0 without). */
        LayerJournal journal;
        int first;
        /** Whether the quantizer needs Hessians of the Linears' inputs. */
        private final boolean hessian;

        private List<ArtifactPlan.Entry> layer(int layer) {
            return plan.entries().stream().filter(e -> e.layer() == layer).toList();
        }

        /** Whether this pipeline quantizes the tensor (rather than the writer rounding it with its own search). */
        private boolean quantizesItself(ArtifactPlan.Entry e) {
            return e.scheme() != null || (ggufGptq != null && e.quantized());
        }

        /** Data-free: per layer, transforms then the quantizer on the (transformed) f32 weights. */
        void dataFree() throws IOException {
            for (int layer = first; layer < layers; layer++) {
                long t = System.nanoTime();
                TensorSet tensors = transforms.isEmpty() ? null : transforms.load(layer);
                if (tensors != null) transforms.transformLayer(layer, tensors, null, null);
                Map<String, ArtifactWriter.Payload> done = new LinkedHashMap<>();
                for (ArtifactPlan.Entry e : layer(layer)) {
                    if (!quantizesItself(e)) continue;
                    long[] s = e.shape();
                    float[] w = tensors != null ? tensors.read(e.name()) : plan.source().readAll(e.name());
                    done.put(e.name(), new ArtifactWriter.Payload.Quantized(e.name(),
                            quantizer.quantize(e.module(), e.scheme(), w, (int) s[0], (int) s[1], null, writer.zeroFloor())));
                }
                time.add("solve", System.nanoTime() - t);
                write(layer, tensors, done);
                if (journal != null) journal.finished(layer, ((SafetensorsArtifactWriter) writer).state(), null);
                listener.layer(layer + 1, layers, (quantizer == null ? "transformed (" : "quantized (") + name + ")", 0);
            }
        }

        /** Calibrated: LayerwiseCapture drives the layers; transforms run on each layer's captured inputs first. */
        void calibrated(OverlayModelSource overlay, int[][] windows, int threads) {
            Map<String, ArtifactPlan.Entry> byName = new HashMap<>();
            for (ArtifactPlan.Entry e : plan.entries()) if (quantizesItself(e)) byName.put(e.name(), e);
            long captureStart = System.nanoTime();
            long tokens = (long) windows.length * windows[0].length;
            long[] solveAndWrite = new long[1];
            try (LlamaRunner runner = LlamaRunner.open(overlay, threads);
                 ActivationSpill spill = ActivationSpill.fromProperties(listener::status)) {
                Architecture arch = runner.config().architecture();
                boolean sequential = hessian && quantizer.trueSequential();
                // GGUF with an importance matrix computed from calibration: after transform steps it is measured again on
                // the transformed layer (its Linears read x/s, not x), once per layer, before the writer rounds them
                boolean remeasure = !hessian && !transforms.isEmpty() && writer instanceof GgufArtifactWriter g && g.weightsByImportance();
                // AWQ before RTN (or into GGUF): the statistics pass runs the fp layer to its end and the next layer is
                // calibrated on those outputs (llm-awq, AutoAWQ), instead of running the quantized layer once more
                boolean fpOutputs = !hessian && transforms.fullPrecisionInputs();
                Boundary resumed;
                try {
                    resumed = first > 0 ? journal.hidden(first - 1, runner, windows, 8, spill) : null;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                LayerwiseCapture.run(runner, windows, 8, sequential, first, resumed, spill, new LayerwiseCapture.Step() {
                    EngineHessians hessians;
                    TensorSet tensors;
                    Boundary fp;
                    final Map<String, ArtifactWriter.Payload> done = new LinkedHashMap<>();

                    @Override
                    public void beforeLayer(int layer, Boundary inputs, LlamaRunner r) {
                        if (transforms.isEmpty()) return;
                        long t = System.nanoTime();
                        tensors = transforms.load(layer);
                        fp = transforms.transformLayer(layer, tensors, r, inputs, fpOutputs);
                        time.add("transform", System.nanoTime() - t);
                        solveAndWrite[0] += System.nanoTime() - t;
                    }

                    @Override
                    public Boundary outputs(int layer) {
                        Boundary out = fp;
                        fp = null;
                        return out;
                    }

                    ModuleObservers<MeanSquareObserver> meanSquare;

                    final InputMax inputMax = new InputMax();

                    @Override
                    public List<LinearObserver> observers(int layer, Set<LinearInput> inputs) {
                        List<LinearObserver> obs = new ArrayList<>(2);
                        if (inputScales) obs.add(inputMax);
                        if (remeasure) {
                            meanSquare = new ModuleObservers<>(MeanSquareObserver::new);
                            obs.add(meanSquare);
                        } else if (hessian) {
                            hessians = new TimedHessianObserver(time);
                            obs.add(hessians);
                        }
                        return obs;
                    }

                    @Override
                    public void afterStage(int layer, Set<LinearInput> inputs, LlamaRunner r) {
                        long t = System.nanoTime();
                        if (remeasure) {
                            for (LinearInput in : inputs) {
                                for (Linear l : in.readers()) {
                                    double[] ms = meanSquare.get(ObservingHook.key(arch, layer, l)).meanSquare();
                                    float[] f = new float[ms.length];
                                    for (int i = 0; i < f.length; i++) f[i] = (float) ms[i];
                                    ((GgufArtifactWriter) writer).replaceImportance(arch.linearName(layer, l) + ".weight", f);
                                }
                            }
                        }
                        for (LinearInput in : inputs) {
                            List<Linear> readers = in.readers();
                            for (int ri = 0; ri < readers.size(); ri++) {
                                Linear l = readers.get(ri);
                                ArtifactPlan.Entry e = byName.get(arch.linearName(layer, l) + ".weight");
                                if (e == null) continue;
                                long[] s = e.shape();
                                int rows = (int) s[0], cols = (int) s[1];
                                // Σ xxᵀ without GPTQ's 2/n factor: GPTQ is invariant to scaling H (damping is relative).
                                // Its upper triangle (0.48 GB at a 7B down_proj, half the n × n array); the input's
                                // last reader takes the observer's own, and the solve works in it.
                                HessianObserver ho = hessian ? hessians.get(ObservingHook.key(arch, layer, l)) : null;
                                PackedSymmetric h = ho == null ? null : ri == readers.size() - 1 ? ho.takePacked() : ho.packedSum();
                                float[] w = r.linearWeight(layer, l);
                                if (e.scheme() != null) {
                                    QuantizedTensor q = quantizer.quantizePacked(e.module(), e.scheme(), w, rows, cols, h, writer.zeroFloor());
                                    // H and W are spent: let them go before the dequantized copy is made
                                    h = null;
                                    w = null;
                                    r.setLinearWeight(layer, l, q.dequantize());
                                    done.put(e.name(), new ArtifactWriter.Payload.Quantized(e.name(), q));
                                    if (inputScales) {
                                        float max = inputMax.max(ObservingHook.key(arch, layer, l));
                                        String n = e.module() + ".input_scale";
                                        done.put(n, new ArtifactWriter.Payload.Floats(n, new long[] {1}, new float[] {(float) (max / 127.5)}));
                                    }
                                } else {
                                    GgufArtifactWriter g = (GgufArtifactWriter) writer;
                                    List<String> fell = new ArrayList<>();
                                    GgufGptq.Quantized q = GgufGptq.quantize(g.ggufName(e.name()), e.ggml(), w, rows, cols, h, ggufGptq, fell);
                                    h = null;
                                    w = null;
                                    if (!fell.isEmpty()) g.fallback(e.name());
                                    r.setLinearWeight(layer, l, q.values());
                                    done.put(e.name(), new ArtifactWriter.Payload.Ggml(e.name(), e.ggml(), MemorySegment.ofArray(q.packed())));
                                }
                            }
                        }
                        long dt = System.nanoTime() - t;
                        time.add("solve", dt);
                        solveAndWrite[0] += dt;
                    }

                    @Override
                    public void afterLayer(int layer, LlamaRunner r, Boundary outputs) {
                        long t = System.nanoTime();
                        try {
                            write(layer, tensors, done);
                            if (journal != null) journal.finished(layer, ((SafetensorsArtifactWriter) writer).state(), outputs);
                        } catch (IOException ex) {
                            throw new UncheckedIOException(ex);
                        }
                        if (tensors != null) transforms.forget(tensors);
                        tensors = null;
                        done.clear();
                        solveAndWrite[0] += System.nanoTime() - t;
                        listener.layer(layer + 1, layers, (quantizer == null ? "transformed (" : "quantized (") + name
                                + (ggufGptq != null ? " → gguf)" : ")"), tokens);
                    }
                });
            }
            long capture = System.nanoTime() - captureStart - solveAndWrite[0];
            time.add("calibration_forward", capture - time.nanos("hessian"));
        }

        /**
         * A finished layer: every tensor the pipeline did not quantize — changed by a transform (f32) or as it is in
         * the source — then the quantized Linears in the order they were finished.
         */
        private void write(int layer, TensorSet tensors, Map<String, ArtifactWriter.Payload> done) throws IOException {
            long t = System.nanoTime();
            for (ArtifactPlan.Entry e : layer(layer)) {
                if (done.containsKey(e.name())) continue;
                writer.put(keptOrChanged(e.name(), tensors));
            }
            for (ArtifactWriter.Payload p : done.values()) writer.put(p);
            writer.finishLayer(layer);
            // the layer is written: its mapped source pages leave the resident set (a 7B checkpoint is 13.5 GB of them)
            plan.source().releasePages();
            if (raw != null) raw.releasePages();
            time.add("pack_write", System.nanoTime() - t);
            // a check riding on the model's hashing pass (NaN/Inf) failed: stop here rather than after the last layer
            if (digests != null) digests.rethrowIfFailed();
        }

        private ArtifactWriter.Payload keptOrChanged(String name, TensorSet tensors) {
            if (tensors != null && tensors.changed().contains(name)) {
                return new ArtifactWriter.Payload.Floats(name, tensors.shape(name), tensors.read(name));
            }
            return new ArtifactWriter.Payload.Kept(name, raw == null ? null : raw.tensor(name));
        }

        /** Embeddings, final norm, lm_head: the transforms' versions where they changed them. */
        void globals() throws IOException {
            TensorSet g = transforms.loadedGlobals(); // null: no transform read them, so none changed
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

    /** The model's files: a directory's regular files, or the one {@code .gguf}. */
    private static List<Path> modelFiles(Path model) throws IOException {
        if (!Files.isDirectory(model)) return List.of(model);
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

    /** max |x| over every token and channel of each observed Linear input, on the engine. */
    static final class InputMax implements LinearObserver, dev.lowbit.calib.observe.NDArrayObserver {
        private final Map<String, Float> max = new HashMap<>();

        @Override
        public void observe(String module, float[] x, int rows, int cols) {
            float m = 0;
            for (float v : x) m = Math.max(m, Math.abs(v));
            merge(module, m);
        }

        @Override
        public void observe(String module, NDArray x) {
            merge(module, x.abs().max().getFloat());
        }

        private synchronized void merge(String module, float m) {
            if (!Float.isFinite(m)) throw new IllegalStateException(module + ": non-finite activation (" + m + ") in calibration");
            max.merge(module, m, Math::max);
        }

        synchronized float max(String module) {
            Float m = max.get(module);
            if (m == null) throw new IllegalStateException("no calibration input observed for " + module);
            if (m == 0) throw new IllegalStateException(module + ": every calibration input is zero; no static scale exists");
            return m;
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
