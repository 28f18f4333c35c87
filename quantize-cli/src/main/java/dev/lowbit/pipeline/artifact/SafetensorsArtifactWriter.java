package dev.lowbit.pipeline.artifact;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.ct.CtConfig;
import dev.lowbit.io.ct.CtPackLayout;
import dev.lowbit.io.ct.CtPacking;
import dev.lowbit.io.gptq.GptqConfig;
import dev.lowbit.io.gptq.GptqPacking;
import dev.lowbit.io.hf.HfConfig;
import dev.lowbit.io.hf.SideFiles;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.safetensors.SafetensorsWriter;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorSpec;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.trit.TritPacking;
import dev.lowbit.io.trit.TritPlaneConfig;
import dev.lowbit.io.trit.TritPlaneTensors;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.steps.QuantizerStep;
import dev.lowbit.ptq.scheme.ZeroFloor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A Hugging Face directory of sharded safetensors: GPTQ v1 ({@code qweight}/{@code qzeros}/{@code scales}/{@code g_idx}),
 * AutoAWQ {@code gemm}, compressed-tensors {@code pack-quantized}, or — with no quantizer ({@code --method none}) — a plain fp checkpoint.
 * One shard per decoder layer (shard 0: the global tensors), written when the layer is finished, so memory holds one
 * layer. Unchanged tensors keep their source bytes and dtype; tensors a transform changed are written in f32.
 * {@code config.json} gets the target's {@code quantization_config}; the model's tokenizer-side files are copied.
 */
public final class SafetensorsArtifactWriter implements ArtifactWriter {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String format;
    private final ZeroFloor floor;
    private ArtifactPlan plan;
    private List<Path> sideFiles;
    private SafeOutput out;
    private ShardPlan shards;
    private final List<TensorSpec> pending = new ArrayList<>();
    private final Set<String> changedConfig = new HashSet<>();
    private int modules;
    private long parameters;
    private long packedBytes;

    /** @param format {@code gptq}, {@code awq}, {@code compressed-tensors} or {@code safetensors} (fp, no quantizer) */
    public SafetensorsArtifactWriter(String format) {
        if (!Set.of(Output.GPTQ, Output.COMPRESSED_TENSORS, Output.AWQ, Output.SAFETENSORS, Output.TRIT_PLANES, Output.DEQUANTIZED).contains(format)) {
            throw new IllegalArgumentException("not a safetensors format: " + format);
        }
        this.format = format;
        // GPTQ v1 stores z − 1 in unsigned qzeros: keep asymmetric zeros ≥ 1 by widening the grid of such groups
        // (dequantized: the values of the GPTQ v1 checkpoint of the same run, so the same floor)
        this.floor = gptqValues(format) ? ZeroFloor.gptqV1() : null;
    }

    /** GPTQ v1, or its values decoded ({@code dequantized}): the same packing rules apply. */
    private static boolean gptqValues(String format) {
        return Output.GPTQ.equals(format) || Output.DEQUANTIZED.equals(format);
    }

    @Override
    public String format() {
        return format;
    }

    @Override
    public ZeroFloor zeroFloor() {
        return floor;
    }

    @Override
    public void validate(ArtifactPlan plan) {
        if (!java.nio.file.Files.isDirectory(plan.source().path())) {
            throw new BadInputException(plan.source().path(), "format " + format + " is written from a Hugging Face model directory");
        }
        if (Output.SAFETENSORS.equals(format) != (plan.quantizer() == null)) {
            throw new BadInputException("--format " + format, Output.SAFETENSORS.equals(format)
                    ? "an fp checkpoint is written by a recipe without a quantizer (--method none)"
                    : "needs a quantizer step (--method rtn|gptq)");
        }
        for (ArtifactPlan.Entry e : plan.quantized()) {
            long[] s = e.shape();
            if (s.length != 2) throw new BadInputException(e.name(), "expected a 2-D weight, got " + java.util.Arrays.toString(s));
            long rows = s[0], cols = s[1];
            QuantScheme scheme = e.scheme();
            boolean ternary = scheme.element() == QuantScheme.ElementType.TERNARY;
            if (ternary != Output.TRIT_PLANES.equals(format)) {
                throw new BadInputException(e.name(), ternary
                        ? "format " + format + " cannot hold " + scheme.planes() + " ternary plane(s) (use format trit-planes)"
                        : "format trit-planes holds ternary planes only, not " + scheme);
            }
            if (dev.lowbit.io.quant.FloatSchemes.isFloat(plan.quantizer().scheme())) checkFloatTarget(e.module(), scheme, plan.quantizer().scheme());
            if (scheme.groupSize() != -1 && cols % scheme.groupSize() != 0) {
                throw new BadInputException(e.name(), "group size " + scheme.groupSize() + " does not divide in_features " + cols);
            }
            if (gptqValues(format)) {
                if (!GptqPacking.supportsBits(scheme.bits())) {
                    throw new BadInputException("--format " + format, scheme.bits() + "-bit is not a GPTQ v1 packing (supported: 2, 3, 4, 8; use --format compressed-tensors)");
                }
                if (cols * scheme.bits() % 32 != 0 || rows * scheme.bits() % 32 != 0) {
                    throw new BadInputException(e.name(), "shape [" + rows + ", " + cols + "] does not pack into int32 words at " + scheme.bits() + " bits");
                }
            }
            if (Output.AWQ.equals(format)) {
                String why = dev.lowbit.io.awq.AwqPacking.unsupported(scheme, (int) rows, (int) cols);
                if (why != null) throw new BadInputException(e.name(), "--format awq: " + why);
                if (!scheme.equals(plan.quantizer().scheme())) {
                    throw new BadInputException("--format awq", e.module() + ": AWQ's quantization_config has one scheme for every module; overrides cannot be stored");
                }
                if (plan.quantizer().actOrder() && !plan.quantizer().staticGroups()) {
                    throw new BadInputException("--act-order", "--format awq has no g_idx: act-order needs --static-groups");
                }
            }
            if (Output.COMPRESSED_TENSORS.equals(format) && plan.quantizer().actOrder() && scheme.groupSize() == -1) {
                throw new BadInputException("--act-order", "compressed-tensors applies activation ordering to group strategy only; use --group-size");
            }
        }
        // tokenizer-side files are checked (real path inside the model tree, content what the name claims) up front
        this.sideFiles = SideFiles.verified(plan.source().path());
        this.plan = plan;
    }

    /** A float scheme is written as compressed-tensors, whole blocks per row, one scheme for every Linear. */
    private void checkFloatTarget(String module, QuantScheme scheme, QuantScheme stepScheme) {
        if (!scheme.equals(stepScheme)) {
            throw new BadInputException("recipe", module + ": per-module overrides are not supported with a float scheme (" + stepScheme + ")");
        }
        if (!Output.COMPRESSED_TENSORS.equals(format)) {
            throw new BadInputException("--format " + format, "float schemes are written as compressed-tensors (--format compressed-tensors)");
        }
        if (dev.lowbit.io.ct.CtFloatPacking.format(scheme) == null) {
            throw new BadInputException("--scheme", scheme + " has no compressed-tensors format lowbit writes (nvfp4, mxfp4 and fp8 do)");
        }
    }

    /** Opens the output so that an interrupted run's finished layers are taken over ({@code quantize --resume}). */
    public void openResumable(Path output, boolean force, SafeOutput.Inputs inputs) {
        resumable = true;
        open(output, force, inputs);
    }

    private boolean resumable;
    /** Some trit-plane Linear carried 8-bit salient weights (PB-LLM): the config says format version 3. */
    private boolean salientWritten;

    @Override
    public void open(Path output, boolean force, SafeOutput.Inputs inputs) {
        if (plan == null) throw new IllegalStateException("validate the plan first");
        out = resumable ? SafeOutput.resumeDirectory(output, force, inputs) : SafeOutput.directory(output, force, inputs);
        int layers = plan.source().config().numHiddenLayers();
        shards = new ShardPlan(out.path(), layers);
    }

    /** The claimed output, for the pipeline's error handling. */
    public SafeOutput output() {
        return out;
    }

    @Override
    public void put(Payload p) {
        switch (p) {
            case Payload.Kept k -> pending.add(TensorSpec.of(k.tensor()));
            case Payload.Floats f -> {
                pending.add(floats(f.name(), f.shape(), f.values()));
                if (f.name().equals("lm_head.weight")) changedConfig.add("lm_head");
            }
            case Payload.Quantized q -> {
                String module = q.name().endsWith(".weight") ? q.name().substring(0, q.name().length() - 7) : q.name();
                List<TensorSpec> packed = pack(module, q.tensor());
                long bytes = 0;
                for (TensorSpec s : packed) bytes += s.byteSize();
                modules++;
                parameters += (long) q.tensor().rows() * q.tensor().cols();
                packedBytes += bytes;
                pending.addAll(packed);
            }
            case Payload.Ggml g -> throw new IllegalArgumentException("format " + format + " takes no ggml blocks (" + g.name() + ")");
        }
    }

    private List<TensorSpec> pack(String module, QuantizedTensor q) {
        if (Output.GPTQ.equals(format)) {
            if (!q.scheme().symmetric()) GptqPacking.requireV1Zeros(q);
            return PackedTensorSpecs.gptq(module, GptqPacking.pack(q));
        }
        if (Output.DEQUANTIZED.equals(format)) {
            // through GPTQ v1's packing (f16 scales, stored zeros) and back, so the f32 values are exactly what
            // lowbit evaluate decodes from the GPTQ checkpoint of the same run
            if (!q.scheme().symmetric()) GptqPacking.requireV1Zeros(q);
            QuantizedTensor stored = GptqPacking.unpack(module, GptqPacking.pack(q), q.scheme());
            return List.of(floats(module + ".weight", new long[] {q.rows(), q.cols()}, stored.dequantize()));
        }
        if (Output.AWQ.equals(format)) return PackedTensorSpecs.awq(module, dev.lowbit.io.awq.AwqPacking.pack(q));
        if (Output.TRIT_PLANES.equals(format)) {
            TritPacking packing = TritPacking.forCodeBits(q.scheme().codeBits());
            if (q.salient() != null) salientWritten = true;
            return TritPlaneTensors.pack(q, packing, packing == TritPacking.BITS1).specs(module);
        }
        if (dev.lowbit.io.quant.FloatSchemes.isFloat(q.scheme())) {
            return dev.lowbit.pipeline.quantize.FloatTensorSpecs.of(module, dev.lowbit.io.ct.CtFloatPacking.pack(q),
                    q.scheme().element() == QuantScheme.ElementType.E5M2);
        }
        if (intActivations() != null) return int8(module, q);
        return PackedTensorSpecs.compressedTensors(module, CtPacking.pack(q, DType.BF16, CtPackLayout.WORD_ALIGNED,
                plan.quantizer().actOrder()));
    }

    /**
     * The int8 input activations the recipe declares (compressed-tensors {@code int-quantized}, W8A8), or null: the
     * checkpoint is then written as {@code int-quantized} rather than {@code pack-quantized}.
     */
    private dev.lowbit.io.quant.ActivationScheme intActivations() {
        if (!Output.COMPRESSED_TENSORS.equals(format) || plan.recipe().output().inputActivations() == null) return null;
        var a = dev.lowbit.io.quant.ActivationScheme.named(plan.recipe().output().inputActivations());
        return a != null && a.type() == dev.lowbit.io.quant.ActivationScheme.Type.INT ? a : null;
    }

    /**
     * compressed-tensors {@code int-quantized}: {@code weight} I8 {@code [N, K]} = q − zero (the signed code; a
     * symmetric 8-bit grid's zero is 128) and {@code weight_scale} F32 {@code [N, 1]}, so ŵ = weight · weight_scale is
     * exactly the in-memory dequantization. vLLM keeps {@code weight_scale} in float32.
     */
    private static List<TensorSpec> int8(String module, QuantizedTensor q) {
        QuantScheme s = q.scheme();
        if (s.bits() != 8 || !s.symmetric() || q.groups() != 1 || q.planes().size() != 1) {
            throw new IllegalArgumentException(module + ": int-quantized holds 8-bit symmetric per-channel codes, not " + s);
        }
        byte[] codes = q.codes();
        int[] zeros = q.zeros();
        byte[] signed = new byte[codes.length];
        for (int r = 0; r < q.rows(); r++) {
            int z = zeros == null ? 0 : zeros[r];
            for (int c = 0; c < q.cols(); c++) {
                int v = (codes[r * q.cols() + c] & 0xFF) - z;
                if (v < -128 || v > 127) throw new IllegalArgumentException(module + ": code " + v + " is outside int8");
                signed[r * q.cols() + c] = (byte) v;
            }
        }
        return List.of(new TensorSpec(module + ".weight", DType.I8, new Shape(new long[] {q.rows(), q.cols()}),
                        SafetensorsWriter.TensorData.of(MemorySegment.ofArray(signed))),
                floats(module + ".weight_scale", new long[] {q.rows(), 1}, q.scales().clone()));
    }

    private static TensorSpec floats(String name, long[] shape, float[] v) {
        MemorySegment seg = MemorySegment.ofArray(new byte[Math.multiplyExact(v.length, 4)]);
        for (int i = 0; i < v.length; i++) seg.setAtIndex(F32, i, v[i]);
        return new TensorSpec(name, DType.F32, new Shape(shape), SafetensorsWriter.TensorData.of(seg));
    }

    @Override
    public void finishLayer(int layer) {
        shards.write(layer + 1, pending);
        pending.clear();
    }

    /** What the writer has accumulated over the layers written so far: what a resumed run starts from. */
    public record State(int modules, long parameters, long packedBytes, long widened, long totalSize, Map<String, String> weightMap) {}

    public State state() {
        return new State(modules, parameters, packedBytes, floor == null ? 0 : floor.count(), shards.totalSize,
                new TreeMap<>(shards.weightMap));
    }

    /** Continues from {@code s} (the layers it covers are already in the output directory). */
    public void restore(State s) {
        if (modules != 0 || !shards.weightMap.isEmpty()) throw new IllegalStateException("restore before writing");
        modules = s.modules();
        parameters = s.parameters();
        packedBytes = s.packedBytes();
        if (floor != null) floor.widened().add(s.widened() - floor.count());
        shards.totalSize = s.totalSize();
        shards.weightMap.putAll(s.weightMap());
    }

    /** The shard file of decoder layer {@code layer} (layer −1: the non-layer tensors). */
    public String shardFile(int layer) {
        return shards.fileName(layer + 1);
    }

    @Override
    public Committed commit(Recipe saved, Manifest manifest) throws IOException {
        Path dir = out.path();
        SafeOutputs.deleteTree(dir.resolve(SafeOutput.RESUME_DIR)); // the journal is no part of the output
        shards.writeIndex();
        writeConfig(dir);
        for (Path p : sideFiles) Files.copy(p, dir.resolve(p.getFileName().toString()));
        Files.writeString(dir.resolve("recipe.json"), saved.toJson());
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("quantized_modules", modules);
        figures.put("quantized_parameters", parameters);
        figures.put("linear_bits_per_weight", bitsPerWeight());
        figures.put("output_bytes_without_manifest", directoryBytes(dir));
        figures.put("widened_groups", floor == null ? 0 : floor.count());
        figures.forEach(manifest::figure);
        manifest.files(fileNames(dir)).write(dir.resolve(Manifest.FILE_NAME));
        long bytes = directoryBytes(dir);
        out.commit();
        return new Committed(out.target(), bytes, figures);
    }

    private double bitsPerWeight() {
        return parameters == 0 ? 0 : packedBytes * 8.0 / parameters;
    }

    @Override
    public void close() {
        if (out != null) out.close();
    }

    /**
     * config.json with the quantization_config: the quantizer's scheme for every Linear; modules an override gave
     * another scheme are listed by exact name (GPTQModel's {@code dynamic} for GPTQ, one config group per scheme for
     * compressed-tensors), and so are decoder Linears the step's targets/ignore left unquantized ({@code "-:"} entries
     * of {@code dynamic}; compressed-tensors' {@code ignore}), so that a loader does not look for their packed weights.
     * A config without overrides or left-out modules is exactly what it was before either existed. An fp checkpoint
     * gets the source's config, with {@code tie_word_embeddings: false} when a transform gave the model its own head.
     */
    private void writeConfig(Path dir) throws IOException {
        Path model = plan.source().path();
        ObjectNode cfg = (ObjectNode) HfConfig.readDocument(model.resolve("config.json")).deepCopy();
        if (changedConfig.contains("lm_head") && plan.source().config().tieWordEmbeddings()) cfg.put("tie_word_embeddings", false);
        QuantizerStep q = plan.quantizer();
        if (q != null) {
            QuantScheme scheme = q.scheme();
            Map<String, QuantScheme> overridden = new LinkedHashMap<>();
            Set<String> quantized = new HashSet<>();
            for (ArtifactPlan.Entry e : plan.quantized()) {
                quantized.add(e.module());
                if (!e.scheme().equals(scheme)) overridden.put(e.module(), e.scheme());
            }
            List<String> leftOut = new ArrayList<>();
            for (String m : decoderLinears()) if (!quantized.contains(m)) leftOut.add(m);
            if (gptqValues(format)) {
                // A data-free quantizer records the reference's defaults (true_sequential is moot without calibration).
                ObjectNode qc = GptqConfig.quantizationConfig(scheme, q.actOrder(), q.staticGroups(),
                        q.dampPercent(), !q.needsCalibration() || q.trueSequential());
                if (!overridden.isEmpty() || !leftOut.isEmpty()) GptqConfig.putDynamic(qc, overridden, leftOut);
                if (Output.DEQUANTIZED.equals(format)) dev.lowbit.io.hf.LowbitDequantized.mark(cfg, qc);
                else cfg.set("quantization_config", qc);
            } else if (Output.TRIT_PLANES.equals(format)) {
                List<String> ignore = new ArrayList<>(List.of("lm_head"));
                ignore.addAll(leftOut);
                cfg.set("quantization_config", TritPlaneConfig.quantizationConfig(new TritPlaneConfig.Fields(scheme.planes(), scheme.groupSize(),
                        TritPacking.forCodeBits(scheme.codeBits())), q.name(), ignore, salientWritten));
            } else if (Output.AWQ.equals(format)) {
                cfg.set("quantization_config", dev.lowbit.io.awq.AwqConfig.quantizationConfig(scheme.groupSize(), leftOut));
            } else {
                List<String> ignore = new ArrayList<>(List.of("lm_head"));
                ignore.addAll(leftOut);
                cfg.set("quantization_config", intActivations() != null
                        ? CtConfig.intQuantizationConfig(scheme, intActivations(), ignore)
                        : dev.lowbit.io.quant.FloatSchemes.isFloat(scheme)
                        ? CtConfig.floatQuantizationConfig(scheme, "fp8-token".equals(plan.recipe().output().inputActivations()), ignore)
                        : overridden.isEmpty()
                        ? CtConfig.quantizationConfig(scheme, q.actOrder() ? "weight" : null, ignore)
                        : CtConfig.quantizationConfig(groups(), q.actOrder() ? "weight" : null, ignore));
            }
        }
        Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(cfg) + "\n");
    }

    /** Module names of every decoder Linear, layer by layer, in the architecture's order. */
    private List<String> decoderLinears() {
        var arch = dev.lowbit.io.arch.ModelArchitecture.forHfClass(plan.source().architecture(), plan.source().path().toString());
        List<String> out = new ArrayList<>();
        for (int layer = 0; layer < plan.source().config().numHiddenLayers(); layer++) {
            for (var role : arch.linears()) {
                out.add(new dev.lowbit.io.arch.ModelArchitecture.Slot(role, layer, "weight").hfName().replaceFirst("\\.weight$", ""));
            }
        }
        return out;
    }

    /** Quantized modules by scheme, in order of first appearance. */
    private Map<QuantScheme, List<String>> groups() {
        Map<QuantScheme, List<String>> g = new LinkedHashMap<>();
        for (ArtifactPlan.Entry e : plan.quantized()) g.computeIfAbsent(e.scheme(), k -> new ArrayList<>()).add(e.module());
        return g;
    }

    private static List<String> fileNames(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    static long directoryBytes(Path dir) throws IOException {
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
                throw new java.io.UncheckedIOException("cannot write " + file, e);
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
}
