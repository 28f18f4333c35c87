package dev.lowbit.pipeline.quantize;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.calib.capture.LayerwiseCapture;
import dev.lowbit.calib.data.CalibrationSet;
import dev.lowbit.calib.model.Architecture;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaConfig;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ObservingHook;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.hf.HfConfig;
import dev.lowbit.io.hf.HfModelCheck;
import dev.lowbit.io.hf.SideFiles;
import dev.lowbit.io.ct.CtConfig;
import dev.lowbit.io.ct.CtFloatPacking;
import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.ct.CtPackLayout;
import dev.lowbit.io.ct.CtPacking;
import dev.lowbit.io.gptq.GptqConfig;
import dev.lowbit.io.gptq.GptqPacking;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.safetensors.SafetensorsWriter;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorSpec;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.steps.QuantizerStep;
import dev.lowbit.ptq.scheme.ZeroFloor;
import dev.lowbit.calib.observe.EngineHessians;
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
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * {@code lowbit quantize} for GPTQ and compressed-tensors outputs, read top to bottom:
 * <pre>
 *   open checkpoint ─► validate recipe against every target Linear (before any heavy work)
 *   data-free quantizer (rtn): per layer: decode weight ─► quantize ─► pack ─► write the layer's shard
 *   calibrated quantizer (gptq): tokenize calibration windows ─► LayerwiseCapture: per layer, stage by stage
 *         ({q,k,v} → {o} → {gate,up} → {down}): Hessians from inputs of the already-quantized prefix ─► quantize ─►
 *         substitute ŵ ─► next stage; after the layer: pack ─► write the layer's shard
 *   pass-through tensors (embeddings, norms, lm_head, ignored Linears) keep their bytes and dtype
 *   config.json + quantization_config, tokenizer files, recipe.json, lowbit-manifest.json ─► rename into place
 * </pre>
 * The output is sharded one decoder layer per file, so memory holds one layer's results at a time.
 */
public final class QuantizePipeline {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

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
        long t0 = System.nanoTime();
        if (dev.lowbit.io.model.ModelSource.isGguf(model)) {
            throw new BadInputException(model, "a .gguf source is re-quantized with --format gguf; GPTQ and compressed-tensors output read a Hugging Face directory");
        }
        LlamaConfig config = LlamaConfig.fromJson(model);
        if (recipe.steps().size() > 1) {
            // the registry has no transform yet; the one that comes first adds its pass here
            throw new BadInputException("recipe", "step '" + recipe.steps().getFirst().type() + "': this pipeline runs no transforms yet");
        }
        QuantizerStep quantizer = recipe.quantizer();
        QuantScheme scheme = quantizer.scheme();
        Timings time = new Timings();
        try (TensorSource source = ShardedSafetensors.open(model)) {
            // the checkpoint as a model: every tensor against config.json, no NaN/Inf, before any work
            HfModelCheck.require(model, HfConfig.read(model.resolve(LlamaConfig.FILE)), source);
            List<Target> targets = targets(config, source, recipe, scheme);
            // Calibration text is tokenized before the output is created, so a short file fails early and cleanly.
            int[][] windows = null;
            if (quantizer.needsCalibration()) {
                Recipe.Calibration c = recipe.calibration();
                Path data = Path.of(c.data());
                windows = c.randomWindows()
                        ? CalibrationSet.random(model, data, c.seqlen(), c.samples(), recipe.seed())
                        : CalibrationSet.first(model, data, c.seqlen(), c.samples());
            }
            // tokenizer-side files are checked (real path inside the model tree, content what the name claims) up front
            List<Path> sideFiles = SideFiles.verified(model);
            SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("MODEL", model).add("--recipe", recipeFile);
            if (recipe.calibration() != null) inputs.add("--calib", Path.of(recipe.calibration().data()));
            try (SafeOutput out = SafeOutput.directory(output, force, inputs)) {
                try {
                    return write(model, out, config, source, recipe, quantizer, targets, windows, threads, time, listener, t0, sideFiles);
                } catch (IOException | RuntimeException e) {
                    throw out.failure(e);
                }
            }
        }
    }

    /** Writes every file of the output into its temp directory, then commits it. */
    private static QuantizeReport write(Path model, SafeOutput out, LlamaConfig config, TensorSource source, Recipe recipe,
                                        QuantizerStep quantizer, List<Target> targets, int[][] windows, int threads,
                                        Timings time, Listener listener, long t0, List<Path> sideFiles) throws IOException {
        Path dir = out.path();
        // GPTQ v1 stores z − 1 in unsigned qzeros: keep asymmetric zeros ≥ 1 by widening the grid of such groups
        ZeroFloor floor = "gptq".equals(recipe.output().format()) ? ZeroFloor.gptqV1() : null; // symmetric grids are never affected
        ShardPlan shards = new ShardPlan(dir, config.numLayers());
        Stats stats = new Stats();
        writeGlobalShard(shards, source, config.architecture());
        if (quantizer.needsCalibration()) {
            runCalibrated(model, config, source, recipe, quantizer, floor, targets, windows, threads, shards, stats, time, listener);
        } else {
            runDataFree(config, source, recipe, quantizer, floor, targets, shards, stats, time, listener);
        }
        shards.writeIndex();
        writeConfig(model, dir, config, recipe, quantizer, targets);
        for (Path p : sideFiles) Files.copy(p, dir.resolve(p.getFileName().toString()));
        // saved with the calibration file relative to the output and its sha256: replays from anywhere, no absolute path
        Recipe saved = recipe.relativeTo(out.target());
        Files.writeString(dir.resolve("recipe.json"), saved.toJson());
        long outBytes = directoryBytes(dir);
        Manifest manifest = new Manifest(saved.toJson(), recipe.seed())
                .input("model", modelFiles(model))
                .figure("quantized_modules", stats.modules)
                .figure("quantized_parameters", stats.parameters)
                .figure("linear_bits_per_weight", stats.bitsPerWeight())
                .figure("output_bytes_without_manifest", outBytes)
                .figure("widened_groups", floor == null ? 0 : floor.count());
        if (recipe.calibration() != null) {
            manifest.input("calibration", List.of(Path.of(recipe.calibration().data())));
            manifest.figure("calibration_windows", windows == null ? 0 : windows.length);
        }
        manifest.files(fileNames(dir)).write(dir.resolve(Manifest.FILE_NAME));
        outBytes = directoryBytes(dir);
        out.commit();
        time.add("total", System.nanoTime() - t0);
        return new QuantizeReport(out.target().toString(), quantizer.name(), quantizer.scheme().toString(),
                recipe.output().format(), stats.modules, stats.parameters, stats.bitsPerWeight(), outBytes,
                directoryBytes(model), time.seconds(), floor == null ? 0 : floor.count());
    }

    /** One Linear that the recipe quantizes, with its grid (the quantizer's, or an override's). */
    record Target(int layer, Linear linear, String module, int rows, int cols, QuantScheme scheme) {}

    /** Resolves and validates every target before any work, so bad input fails in a second with one line. */
    static List<Target> targets(LlamaConfig config, TensorSource source, Recipe recipe, QuantScheme stepScheme) {
        Architecture arch = config.architecture();
        List<Target> out = new ArrayList<>();
        for (int layer = 0; layer < config.numLayers(); layer++) {
            for (Linear l : Linear.values()) {
                String module = arch.linearName(layer, l);
                if (!recipe.selects(module)) continue;
                Tensor w = source.tensor(module + ".weight");
                if (w.shape().rank() != 2) throw new BadInputException(module + ".weight", "expected a 2-D weight, got " + w.shape());
                int rows = Math.toIntExact(w.shape().dim(0)), cols = Math.toIntExact(w.shape().dim(1));
                QuantScheme scheme = recipe.schemeFor(module, stepScheme);
                if (FloatSchemes.isFloat(stepScheme)) checkFloatTarget(module, rows, cols, scheme, stepScheme, recipe);
                if (scheme.groupSize() != -1 && cols % scheme.groupSize() != 0) {
                    throw new BadInputException(module + ".weight", "group size " + scheme.groupSize()
                            + " does not divide in_features " + cols);
                }
                if (Output.GPTQ.equals(recipe.output().format())) {
                    if (!GptqPacking.supportsBits(scheme.bits())) {
                        throw new BadInputException("--format gptq", scheme.bits() + "-bit is not a GPTQ v1 packing (supported: 2, 3, 4, 8; use --format compressed-tensors)");
                    }
                    if ((long) cols * scheme.bits() % 32 != 0 || (long) rows * scheme.bits() % 32 != 0) {
                        throw new BadInputException(module + ".weight", "shape [" + rows + ", " + cols
                                + "] does not pack into int32 words at " + scheme.bits() + " bits");
                    }
                }
                if (Output.AWQ.equals(recipe.output().format())) {
                    String why = dev.lowbit.io.awq.AwqPacking.unsupported(scheme, rows, cols);
                    if (why != null) throw new BadInputException(module + ".weight", "--format awq: " + why);
                    if (!scheme.equals(stepScheme)) {
                        throw new BadInputException("--format awq", module + ": AWQ's quantization_config has one scheme for every module; overrides cannot be stored");
                    }
                    if (recipe.quantizer().actOrder() && !recipe.quantizer().staticGroups()) {
                        throw new BadInputException("--act-order", "--format awq has no g_idx: act-order needs --static-groups");
                    }
                }
                if (Output.COMPRESSED_TENSORS.equals(recipe.output().format()) && recipe.quantizer().actOrder()
                        && scheme.groupSize() == -1) {
                    throw new BadInputException("--act-order", "compressed-tensors applies activation ordering to group strategy only; use --group-size");
                }
                out.add(new Target(layer, l, module, rows, cols, scheme));
            }
        }
        if (out.isEmpty()) throw new BadInputException("recipe", "no Linear matches the targets/ignore patterns");
        return out;
    }

    /** A float scheme is written as compressed-tensors, whole blocks per row, one scheme for every Linear. */
    private static void checkFloatTarget(String module, int rows, int cols, QuantScheme scheme, QuantScheme stepScheme, Recipe recipe) {
        if (!scheme.equals(stepScheme)) {
            throw new BadInputException("recipe", module + ": per-module overrides are not supported with a float scheme (" + stepScheme + ")");
        }
        if (!Output.COMPRESSED_TENSORS.equals(recipe.output().format())) {
            throw new BadInputException("--format " + recipe.output().format(), "float schemes are written as compressed-tensors (--format compressed-tensors)");
        }
        if (CtFloatPacking.format(scheme) == null) {
            throw new BadInputException("--scheme", scheme + " has no compressed-tensors format lowbit writes (nvfp4, mxfp4 and fp8 do)");
        }
    }

    // ------------------------------------------------------------------ data-free (RTN)

    private static void runDataFree(LlamaConfig config, TensorSource source, Recipe recipe, QuantizerStep quantizer,
                                    ZeroFloor floor, List<Target> targets, ShardPlan shards, Stats stats, Timings time, Listener listener) {
        for (int layer = 0; layer < config.numLayers(); layer++) {
            long t = System.nanoTime();
            Map<String, QuantizedTensor> done = new LinkedHashMap<>();
            for (Target tg : targets) {
                if (tg.layer != layer) continue;
                float[] w = source.tensor(tg.module + ".weight").toFloatArray();
                done.put(tg.module, quantizer.quantize(tg.module, tg.scheme, w, tg.rows, tg.cols, null, floor));
            }
            time.add("solve", System.nanoTime() - t);
            writeLayer(shards, source, config, layer, done, recipe, stats, time);
            listener.status("layer " + (layer + 1) + "/" + config.numLayers() + " quantized (" + quantizer.name() + ")");
        }
    }

    // ------------------------------------------------------------------ calibrated (GPTQ)

    private static void runCalibrated(Path model, LlamaConfig config, TensorSource source, Recipe recipe,
                                      QuantizerStep quantizer, ZeroFloor floor, List<Target> targets, int[][] windows, int threads,
                                      ShardPlan shards, Stats stats, Timings time, Listener listener) {
        Architecture arch = config.architecture();
        Map<String, Target> byModule = new HashMap<>();
        for (Target t : targets) byModule.put(t.module, t);
        long captureStart = System.nanoTime();
        long[] solveAndWrite = new long[1];
        try (LlamaRunner runner = LlamaRunner.open(model, threads)) {
            LayerwiseCapture.run(runner, windows, 8, quantizer.trueSequential(), new LayerwiseCapture.Step() {
                EngineHessians hessians;
                final Map<String, QuantizedTensor> done = new LinkedHashMap<>();

                @Override
                public List<LinearObserver> observers(int layer, Set<LinearInput> inputs) {
                    hessians = new TimedHessianObserver(time);
                    return List.of(hessians);
                }

                @Override
                public void afterStage(int layer, Set<LinearInput> inputs, LlamaRunner r) {
                    long t = System.nanoTime();
                    for (LinearInput in : inputs) {
                        for (Linear l : in.readers()) {
                            Target tg = byModule.get(arch.linearName(layer, l));
                            if (tg == null) continue;
                            // Σ xxᵀ without GPTQ's 2/n factor: GPTQ is invariant to scaling H (damping is relative).
                            double[] h = hessians.get(ObservingHook.key(arch, layer, l)).sum();
                            QuantizedTensor q = quantizer.quantize(tg.module, tg.scheme, r.linearWeight(layer, l), tg.rows, tg.cols, h, floor);
                            r.setLinearWeight(layer, l, q.dequantize());
                            done.put(tg.module, q);
                        }
                    }
                    long dt = System.nanoTime() - t;
                    time.add("solve", dt);
                    solveAndWrite[0] += dt;
                }

                @Override
                public void afterLayer(int layer, LlamaRunner r) {
                    long t = System.nanoTime();
                    writeLayer(shards, source, config, layer, done, recipe, stats, time);
                    done.clear();
                    solveAndWrite[0] += System.nanoTime() - t;
                    listener.status("layer " + (layer + 1) + "/" + config.numLayers() + " quantized (" + quantizer.name() + ")");
                }
            });
        }
        long capture = System.nanoTime() - captureStart - solveAndWrite[0];
        time.add("calibration_forward", capture - time.nanos("hessian"));
    }

    // ------------------------------------------------------------------ writing

    /** Packs a finished layer and writes its shard: quantized Linears plus every other tensor of the layer as is. */
    private static void writeLayer(ShardPlan shards, TensorSource source, LlamaConfig config, int layer,
                                   Map<String, QuantizedTensor> done, Recipe recipe, Stats stats, Timings time) {
        long t = System.nanoTime();
        String prefix = config.architecture().layerPrefix().formatted(layer);
        List<TensorSpec> specs = new ArrayList<>();
        for (String name : source.names()) {
            if (!name.startsWith(prefix)) continue;
            String module = name.endsWith(".weight") ? name.substring(0, name.length() - ".weight".length()) : null;
            if (module != null && done.containsKey(module)) continue;
            specs.add(TensorSpec.of(source.tensor(name)));
        }
        for (Map.Entry<String, QuantizedTensor> e : done.entrySet()) {
            List<TensorSpec> packed = pack(e.getKey(), e.getValue(), recipe);
            long bytes = 0;
            for (TensorSpec s : packed) bytes += s.byteSize();
            stats.add(e.getValue(), bytes);
            specs.addAll(packed);
        }
        shards.write(layer + 1, specs);
        time.add("pack_write", System.nanoTime() - t);
    }

    static List<TensorSpec> pack(String module, QuantizedTensor q, Recipe recipe) {
        if (Output.GPTQ.equals(recipe.output().format())) {
            if (!q.scheme().symmetric()) GptqPacking.requireV1Zeros(q);
            return PackedTensorSpecs.gptq(module, GptqPacking.pack(q));
        }
        if (Output.AWQ.equals(recipe.output().format())) return PackedTensorSpecs.awq(module, dev.lowbit.io.awq.AwqPacking.pack(q));
        if (FloatSchemes.isFloat(q.scheme())) {
            return FloatTensorSpecs.of(module, CtFloatPacking.pack(q), q.scheme().element() == QuantScheme.ElementType.E5M2);
        }
        return PackedTensorSpecs.compressedTensors(module, CtPacking.pack(q, DType.BF16, CtPackLayout.WORD_ALIGNED,
                recipe.quantizer().actOrder()));
    }

    /** Embeddings, final norm, lm_head and anything else outside the decoder layers. */
    private static void writeGlobalShard(ShardPlan shards, TensorSource source, Architecture arch) {
        String layers = arch.layerPrefix().substring(0, arch.layerPrefix().indexOf("%d"));
        List<TensorSpec> specs = new ArrayList<>();
        for (String name : source.names()) {
            if (!name.startsWith(layers)) specs.add(TensorSpec.of(source.tensor(name)));
        }
        shards.write(0, specs);
    }

    /**
     * config.json with the quantization_config: the quantizer's scheme for every Linear; modules an override gave
     * another scheme are listed by exact name (GPTQModel's {@code dynamic} for GPTQ, one config group per scheme for
     * compressed-tensors), and so are decoder Linears the step's targets/ignore left unquantized ({@code "-:"} entries
     * of {@code dynamic}; compressed-tensors' {@code ignore}), so that a loader does not look for their packed weights.
     * A config without overrides or left-out modules is exactly what it was before either existed.
     */
    private static void writeConfig(Path model, Path out, LlamaConfig config, Recipe recipe, QuantizerStep q,
                                    List<Target> targets) throws IOException {
        ObjectNode cfg = (ObjectNode) HfConfig.readDocument(model.resolve(LlamaConfig.FILE)).deepCopy();
        QuantScheme scheme = q.scheme();
        boolean actOrder = q.actOrder();
        Map<String, QuantScheme> overridden = new LinkedHashMap<>();
        java.util.Set<String> quantized = new java.util.HashSet<>();
        for (Target t : targets) {
            quantized.add(t.module);
            if (!t.scheme.equals(scheme)) overridden.put(t.module, t.scheme);
        }
        List<String> leftOut = new ArrayList<>();
        for (int layer = 0; layer < config.numLayers(); layer++) {
            for (Linear l : Linear.values()) {
                String module = config.architecture().linearName(layer, l);
                if (!quantized.contains(module)) leftOut.add(module);
            }
        }
        if (Output.GPTQ.equals(recipe.output().format())) {
            // A data-free quantizer records the reference's defaults (true_sequential is moot without calibration).
            ObjectNode qc = GptqConfig.quantizationConfig(scheme, actOrder, q.staticGroups(),
                    q.dampPercent(), !q.needsCalibration() || q.trueSequential());
            if (!overridden.isEmpty() || !leftOut.isEmpty()) GptqConfig.putDynamic(qc, overridden, leftOut);
            cfg.set("quantization_config", qc);
        } else if (Output.AWQ.equals(recipe.output().format())) {
            cfg.set("quantization_config", dev.lowbit.io.awq.AwqConfig.quantizationConfig(scheme.groupSize(), leftOut));
        } else {
            List<String> ignore = new ArrayList<>(List.of("lm_head"));
            ignore.addAll(leftOut);
            cfg.set("quantization_config", FloatSchemes.isFloat(scheme) ? CtConfig.floatQuantizationConfig(scheme, false, ignore)
                    : overridden.isEmpty()
                    ? CtConfig.quantizationConfig(scheme, actOrder ? "weight" : null, ignore)
                    : CtConfig.quantizationConfig(groups(targets), actOrder ? "weight" : null, ignore));
        }
        Files.writeString(out.resolve("config.json"), JSON.writeValueAsString(cfg) + "\n");
    }

    /** Quantized modules by scheme, in order of first appearance. */
    private static Map<QuantScheme, List<String>> groups(List<Target> targets) {
        Map<QuantScheme, List<String>> g = new LinkedHashMap<>();
        for (Target t : targets) g.computeIfAbsent(t.scheme, k -> new ArrayList<>()).add(t.module);
        return g;
    }

    private static List<Path> modelFiles(Path model) throws IOException {
        try (Stream<Path> s = Files.list(model)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        }
    }

    private static List<String> fileNames(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static long directoryBytes(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            long n = 0;
            for (Path p : s.filter(Files::isRegularFile).toList()) n += Files.size(p);
            return n;
        }
    }

    /** Shard {@code k} of {@code layers + 1}: shard 0 holds the non-layer tensors, shard i+1 decoder layer i. */
    static final class ShardPlan {
        private final Path dir;
        private final int count;
        private final Map<String, String> weightMap = new TreeMap<>();
        private long totalSize;

        ShardPlan(Path dir, int layers) {
            this.dir = dir;
            this.count = layers + 1;
        }

        String fileName(int k) {
            return String.format(java.util.Locale.ROOT, "model-%05d-of-%05d.safetensors", k + 1, count);
        }

        void write(int k, List<TensorSpec> specs) {
            String file = fileName(k);
            try {
                SafetensorsWriter.write(dir.resolve(file), specs, SafetensorsWriter.Options.defaults().forTransformers());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + file, e);
            }
            for (TensorSpec s : specs) {
                weightMap.put(s.name(), file);
                totalSize += s.byteSize();
            }
        }

        void writeIndex() throws IOException {
            ObjectNode root = JSON.createObjectNode();
            root.putObject("metadata").put("total_size", totalSize);
            ObjectNode wm = root.putObject("weight_map");
            weightMap.forEach(wm::put);
            Files.writeString(dir.resolve(ShardedSafetensors.INDEX), JSON.writeValueAsString(root) + "\n");
        }
    }

    /** Counts of what was quantized, for the report and the manifest. */
    static final class Stats {
        int modules;
        long parameters;
        long packedBytes;

        void add(QuantizedTensor q, long bytes) {
            modules++;
            parameters += (long) q.rows() * q.cols();
            packedBytes += bytes;
        }

        double bitsPerWeight() {
            return parameters == 0 ? 0 : packedBytes * 8.0 / parameters;
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
