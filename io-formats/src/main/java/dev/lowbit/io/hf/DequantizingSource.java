package dev.lowbit.io.hf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.ct.CtPackLayout;
import dev.lowbit.io.ct.CtPacking;
import dev.lowbit.io.ct.CtTensors;
import dev.lowbit.io.gptq.GptqPacking;
import dev.lowbit.io.gptq.GptqTensors;
import dev.lowbit.io.quant.ActivationScheme;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Presents a quantized checkpoint (GPTQ v1 {@code qweight/qzeros/scales/g_idx}, AutoAWQ gemm {@code qweight/qzeros/scales}, or compressed-tensors
 * {@code pack-quantized} {@code weight_packed/weight_scale/weight_zero_point}) as the plain checkpoint it stands for:
 * each quantized Linear appears as {@code <module>.weight}, dequantized to F32 on request (one tensor at a time);
 * every other tensor passes through unchanged. This is how {@code lowbit evaluate} runs a quantized checkpoint.
 */
public final class DequantizingSource implements TensorSource {
    public enum Format { GPTQ, COMPRESSED_TENSORS, AWQ, INT_QUANTIZED }

    private final TensorSource packed;
    private final Format format;
    private final QuantScheme scheme;
    private final List<Rule> rules;
    private final CtPackLayout layout;
    private final Map<String, String> modules = new LinkedHashMap<>(); // synthesized weight name -> module
    private final List<String> names = new ArrayList<>();
    private final String source;
    private ActivationScheme activations;

    /**
     * A per-module scheme from the quantization_config: GPTQModel's {@code dynamic} entries, or a compressed-tensors
     * config group's module names and {@code re:} patterns.
     */
    private record Rule(java.util.function.Predicate<String> matches, QuantScheme scheme) {}

    private DequantizingSource(TensorSource packed, Format format, QuantScheme scheme, List<Rule> rules,
                               CtPackLayout layout, String source) {
        this.packed = packed;
        this.format = format;
        this.scheme = scheme;
        this.rules = List.copyOf(rules);
        this.layout = layout;
        this.source = source;
        String marker = switch (format) {
            case COMPRESSED_TENSORS -> ".weight_packed";
            case INT_QUANTIZED -> ".weight";
            case GPTQ, AWQ -> ".qweight";
        };
        for (String n : packed.names()) {
            if (n.endsWith(marker) && (format != Format.INT_QUANTIZED || isInt8Weight(n))) {
                String module = n.substring(0, n.length() - marker.length());
                modules.put(module + ".weight", module);
                names.add(module + ".weight");
            } else if (!isPackedPart(n)) {
                names.add(n);
            }
        }
    }

    /**
     * Opens the weights of a Hugging Face directory: plain safetensors as they are, a GPTQ or compressed-tensors
     * checkpoint (config.json has a {@code quantization_config}) dequantized on the fly.
     */
    public static TensorSource openDirectory(java.nio.file.Path dir) {
        java.nio.file.Path cfg = dir.resolve("config.json");
        JsonNode config = HfConfig.read(cfg).raw();
        TensorSource packed = dev.lowbit.io.safetensors.ShardedSafetensors.open(dir);
        try {
            return wrap(packed, config, cfg.toString());
        } catch (RuntimeException e) {
            packed.close();
            throw e;
        }
    }

    /**
     * Wraps {@code packed} when {@code config} has a {@code quantization_config} lowbit reads; returns {@code packed}
     * itself for an unquantized checkpoint.
     */
    public static TensorSource wrap(TensorSource packed, JsonNode config, String source) {
        JsonNode qc = config.get("quantization_config");
        if (qc == null || qc.isNull()) return packed;
        String method = qc.path("quant_method").asText("");
        switch (method) {
            case "gptq" -> {
                String fmt = qc.path("checkpoint_format").asText("gptq");
                if (!fmt.equals("gptq")) {
                    throw new BadInputException(source, "GPTQ checkpoint_format '" + fmt + "' is not supported (only v1 'gptq')");
                }
                int bits = qc.path("bits").asInt(0);
                QuantScheme s = scheme(source, bits, qc.path("group_size").asInt(-1), qc.path("sym").asBoolean(true));
                // GPTQModel's per-module overrides: "+:REGEX" (or a bare REGEX) re.match'ed against the module name;
                // "-:REGEX" modules are left unquantized and simply have no qweight
                List<Rule> rules = new ArrayList<>();
                for (Map.Entry<String, JsonNode> e : qc.path("dynamic").properties()) {
                    String key = e.getKey();
                    if (key.startsWith("-:")) continue;
                    java.util.regex.Pattern p = pattern(source, key.startsWith("+:") ? key.substring(2) : key);
                    JsonNode o = e.getValue();
                    rules.add(new Rule(m -> p.matcher(m).lookingAt(), scheme(source, o.path("bits").asInt(s.bits()),
                            o.path("group_size").asInt(s.groupSize()), o.path("sym").asBoolean(s.symmetric()))));
                }
                return new DequantizingSource(packed, Format.GPTQ, s, rules, null, source);
            }
            case "compressed-tensors" -> {
                String fmt = qc.path("format").asText("");
                if (!fmt.equals("pack-quantized") && !fmt.equals("int-quantized")) {
                    throw new BadInputException(source, "compressed-tensors format '" + fmt + "' is not supported (pack-quantized, int-quantized)");
                }
                JsonNode groups = qc.path("config_groups");
                if (groups.isEmpty()) throw new BadInputException(source, "compressed-tensors quantization_config has no config groups");
                // a module takes the group that names it, else one whose "re:" pattern matches it, else the "Linear" one
                QuantScheme linear = null;
                ActivationScheme[] acts = {null};
                boolean[] seen = {false};
                List<Rule> names = new ArrayList<>(), patterns = new ArrayList<>();
                for (JsonNode group : groups) {
                    JsonNode w = group.path("weights");
                    if (!"int".equals(w.path("type").asText("int"))) {
                        throw new BadInputException(source, "compressed-tensors weight type '" + w.path("type").asText() + "' is not supported");
                    }
                    String strategy = w.path("strategy").asText("group");
                    if (strategy.equals("tensor") && fmt.equals("int-quantized")) strategy = "channel"; // one scale, broadcast
                    int g = strategy.equals("channel") ? -1 : w.path("group_size").asInt(-1);
                    ActivationScheme a = activationScheme(source, group.path("input_activations"));
                    if (acts[0] != null && !java.util.Objects.equals(acts[0], a) || acts[0] == null && seen[0] && a != null) {
                        throw new BadInputException(source, "compressed-tensors config groups declare different input_activations (one scheme per model is supported)");
                    }
                    acts[0] = a;
                    seen[0] = true;
                    QuantScheme s = scheme(source, w.path("num_bits").asInt(0), g, w.path("symmetric").asBoolean(true));
                    for (JsonNode t : group.path("targets")) {
                        String target = t.asText();
                        if (target.equals("Linear")) {
                            if (linear != null) throw new BadInputException(source, "two compressed-tensors config groups target Linear");
                            linear = s;
                        } else if (target.startsWith("re:")) {
                            java.util.regex.Pattern p = pattern(source, target.substring(3));
                            patterns.add(new Rule(m -> p.matcher(m).matches(), s));
                        } else {
                            names.add(new Rule(target::equals, s));
                        }
                    }
                }
                names.addAll(patterns);
                DequantizingSource d = fmt.equals("int-quantized")
                        ? new DequantizingSource(packed, Format.INT_QUANTIZED, linear, names, null, source)
                        : new DequantizingSource(packed, Format.COMPRESSED_TENSORS, linear, names, CtPackLayout.WORD_ALIGNED, source);
                d.activations = acts[0];
                return d;
            }
            case "awq" -> {
                // AutoAWQ: only the gemm layout (gemv, gemv_fast, marlin, exllama pack differently), 4-bit, zero points
                String version = qc.path("version").asText("gemm");
                if (!version.equalsIgnoreCase("gemm")) {
                    throw new BadInputException(source, "AWQ version '" + version + "' is not supported (only gemm)");
                }
                int bits = qc.has("bits") ? qc.path("bits").asInt(0) : qc.path("w_bit").asInt(0);
                int group = qc.has("group_size") ? qc.path("group_size").asInt(0) : qc.path("q_group_size").asInt(0);
                if (bits != 4) throw new BadInputException(source, "AWQ gemm holds 4-bit weights, quantization_config says " + bits);
                if (group <= 0) throw new BadInputException(source, "AWQ group_size must be positive, got " + group);
                if (!qc.path("zero_point").asBoolean(true)) {
                    throw new BadInputException(source, "AWQ zero_point false is not supported (gemm stores zero points)");
                }
                return new DequantizingSource(packed, Format.AWQ, scheme(source, 4, group, false), List.of(), null, source);
            }
            default -> throw new BadInputException(source, "quant_method '" + method + "' is not supported (supported: gptq, compressed-tensors, awq)");
        }
    }

    /**
     * A config group's {@code input_activations}: null when absent; symmetric int only, per token (dynamic) or per
     * tensor (static, scale in {@code <module>.input_scale}, or dynamic).
     */
    private static ActivationScheme activationScheme(String source, JsonNode a) {
        if (a == null || a.isNull() || a.isMissingNode()) return null;
        if (!"int".equals(a.path("type").asText("int"))) {
            throw new BadInputException(source, "input_activations type '" + a.path("type").asText() + "' is not supported (int)");
        }
        if (!a.path("symmetric").asBoolean(true)) {
            throw new BadInputException(source, "asymmetric input_activations are not supported (symmetric only)");
        }
        String strategy = a.path("strategy").asText("tensor");
        boolean dynamic = a.path("dynamic").asBoolean(false);
        try {
            return switch (strategy) {
                case "token" -> new ActivationScheme(ActivationScheme.Type.INT, a.path("num_bits").asInt(8), ActivationScheme.Strategy.TOKEN, dynamic);
                case "tensor" -> new ActivationScheme(ActivationScheme.Type.INT, a.path("num_bits").asInt(8), ActivationScheme.Strategy.TENSOR, dynamic);
                default -> throw new BadInputException(source, "input_activations strategy '" + strategy + "' is not supported (token, tensor)");
            };
        } catch (IllegalArgumentException e) {
            throw new BadInputException(source, "input_activations: " + e.getMessage());
        }
    }

    private boolean isInt8Weight(String name) {
        String module = name.substring(0, name.length() - ".weight".length());
        return packed.contains(module + ".weight_scale") && packed.tensor(name).dtype() == DType.I8;
    }

    /** The run-time activation scheme the config declares ({@code input_activations}), or null (weight-only). */
    public ActivationScheme activationScheme() {
        return activations;
    }

    /**
     * The static per-tensor activation scale of {@code module} ({@code <module>.input_scale}, one value).
     *
     * @throws BadInputException when the checkpoint has none, or it is not one finite positive number
     */
    public float inputScale(String module) {
        String name = module + ".input_scale";
        if (!packed.contains(name)) throw new BadInputException(source, name + " is missing (input_activations are static)");
        Tensor t = packed.tensor(name);
        if (t.elementCount() != 1 || !t.dtype().isFloatingPoint()) {
            throw new BadInputException(source, name + " must be one floating-point value, got " + t.dtype().wireName() + " " + t.shape());
        }
        float v = t.toFloatArray()[0];
        if (!(v > 0) || !Float.isFinite(v)) throw new BadInputException(source, name + " is " + v + " (must be finite and positive)");
        return v;
    }

    private static java.util.regex.Pattern pattern(String source, String regex) {
        try {
            return java.util.regex.Pattern.compile(regex);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new BadInputException(source, "quantization_config: invalid module pattern '" + regex + "'");
        }
    }

    private static QuantScheme scheme(String source, int bits, int group, boolean sym) {
        try {
            return new QuantScheme(bits, group, sym);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(source, "quantization_config: " + e.getMessage());
        }
    }

    private boolean isPackedPart(String n) {
        String[] parts = switch (format) {
            case GPTQ -> new String[] {".qzeros", ".scales", ".g_idx"};
            case AWQ -> new String[] {".qzeros", ".scales"};
            case COMPRESSED_TENSORS -> new String[] {".weight_scale", ".weight_zero_point", ".weight_shape", ".weight_g_idx", ".input_scale"};
            case INT_QUANTIZED -> new String[] {".weight_scale", ".weight_zero_point", ".input_scale"};
        };
        for (String p : parts) {
            String module = n.substring(0, Math.max(0, n.length() - p.length()));
            if (n.endsWith(p) && (format == Format.INT_QUANTIZED ? modules.containsValue(module) || packed.contains(module + ".weight")
                    && isInt8Weight(module + ".weight") : packed.contains(module
                    + (format == Format.COMPRESSED_TENSORS ? ".weight_packed" : ".qweight")))) {
                return true;
            }
        }
        return false;
    }

    public Format format() {
        return format;
    }

    /** The checkpoint as stored (packed tensors included). */
    public TensorSource packed() {
        return packed;
    }

    /** Whether {@code name} is a quantized Linear's synthesized {@code .weight}. */
    public boolean isQuantized(String name) {
        return modules.containsKey(name);
    }

    /**
     * The PyTorch shape {@code [out, in]} a quantized Linear's weight has, from its packed tensors without decoding
     * them: GPTQ {@code qweight [in·bits/32, out]}; compressed-tensors {@code weight_shape}.
     */
    public long[] declaredShape(String name) {
        String module = modules.get(name);
        if (module == null) return packed.tensor(name).shape().dims();
        if (format == Format.GPTQ) {
            Tensor qweight = packed.tensor(module + ".qweight");
            if (qweight.shape().rank() != 2) throw new BadInputException(source, module + ".qweight is not 2-D: " + qweight.shape());
            return new long[] {qweight.shape().dim(1), qweight.shape().dim(0) * 32 / schemeOf(module).bits()};
        }
        if (format == Format.INT_QUANTIZED) return packed.tensor(name).shape().dims();
        if (format == Format.AWQ) {
            Tensor qweight = packed.tensor(module + ".qweight");
            if (qweight.shape().rank() != 2) throw new BadInputException(source, module + ".qweight is not 2-D: " + qweight.shape());
            return new long[] {qweight.shape().dim(1) * 8, qweight.shape().dim(0)};
        }
        Tensor shape = packed.tensor(module + ".weight_shape");
        if (shape.elementCount() != 2 || shape.dtype().isFloatingPoint()) {
            throw new BadInputException(source, module + ".weight_shape must hold two integers");
        }
        return new long[] {shape.getLong(0), shape.getLong(1)};
    }

    /** The checkpoint's scheme for modules no per-module entry names ({@code null} when there is no such default). */
    public QuantScheme scheme() {
        return scheme;
    }

    /** The scheme the quantization_config gives this module. */
    public QuantScheme schemeOf(String module) {
        for (Rule r : rules) {
            if (r.matches().test(module)) return r.scheme();
        }
        if (scheme == null) throw new BadInputException(source, module + ": no compressed-tensors config group targets it");
        return scheme;
    }

    /** Names of the quantized modules (without {@code .weight}). */
    public List<String> quantizedModules() {
        return List.copyOf(modules.values());
    }

    /** The layout-free codes of a quantized module. */
    public QuantizedTensor quantized(String module) {
        try {
            return switch (format) {
                case GPTQ -> gptq(module);
                case AWQ -> awq(module);
                case COMPRESSED_TENSORS -> compressedTensors(module);
                case INT_QUANTIZED -> throw new IllegalArgumentException("int-quantized weights are read as tensors, not codes");
            };
        } catch (IllegalArgumentException e) {
            throw new BadInputException(source, module + ": " + e.getMessage());
        }
    }

    private QuantizedTensor gptq(String module) {
        QuantScheme scheme = schemeOf(module);
        Tensor qweight = packed.tensor(module + ".qweight");
        Tensor scales = packed.tensor(module + ".scales");
        int n = Math.toIntExact(qweight.shape().dim(1));
        int k = Math.toIntExact(qweight.shape().dim(0) * 32 / scheme.bits());
        int[] gIdx = packed.contains(module + ".g_idx") ? ints(packed.tensor(module + ".g_idx")) : null;
        GptqTensors t = new GptqTensors(scheme.bits(), k, n, ints(qweight), ints(packed.tensor(module + ".qzeros")),
                shorts(scales, DType.F16), gIdx);
        return GptqPacking.unpack(module, t, scheme);
    }

    private QuantizedTensor awq(String module) {
        Tensor qweight = packed.tensor(module + ".qweight");
        if (qweight.shape().rank() != 2) throw new IllegalArgumentException("qweight is not 2-D: " + qweight.shape());
        int k = Math.toIntExact(qweight.shape().dim(0));
        int n = Math.toIntExact(qweight.shape().dim(1) * 8);
        int g = scheme.groupSize();
        if (k % g != 0) throw new IllegalArgumentException("group_size " + g + " does not divide in_features " + k);
        dev.lowbit.io.awq.AwqTensors t = new dev.lowbit.io.awq.AwqTensors(k, n, g, ints(qweight),
                ints(packed.tensor(module + ".qzeros")), shorts(packed.tensor(module + ".scales"), DType.F16));
        return dev.lowbit.io.awq.AwqPacking.unpack(module, t);
    }

    private QuantizedTensor compressedTensors(String module) {
        QuantScheme scheme = schemeOf(module);
        Tensor wp = packed.tensor(module + ".weight_packed");
        Tensor ws = packed.tensor(module + ".weight_scale");
        Tensor shape = packed.tensor(module + ".weight_shape");
        long[] dims = {shape.getLong(0), shape.getLong(1)};
        int n = Math.toIntExact(dims[0]), k = Math.toIntExact(dims[1]);
        int groups = Math.toIntExact(ws.shape().dim(1));
        int[] zp = packed.contains(module + ".weight_zero_point") ? ints(packed.tensor(module + ".weight_zero_point")) : null;
        int[] gIdx = packed.contains(module + ".weight_g_idx") ? ints(packed.tensor(module + ".weight_g_idx")) : null;
        if (ws.dtype() != DType.BF16 && ws.dtype() != DType.F16) {
            throw new BadInputException(source, module + ".weight_scale is " + ws.dtype().wireName() + " (expected BF16 or F16)");
        }
        CtTensors t = new CtTensors(scheme.bits(), layout, n, k, groups, ints(wp), ws.dtype(), shorts(ws, ws.dtype()), zp,
                dims, gIdx);
        return CtPacking.unpack(module, t, scheme);
    }

    /**
     * An int-quantized weight {@code [N, K]} int8, symmetric: W[n,k] = q[n,k] · weight_scale[n, k/G] with the scale
     * {@code [N, 1]} per channel, {@code [N, K/G]} per group, or one value per tensor.
     */
    private Tensor intQuantized(String module) {
        String name = module + ".weight";
        Tensor q = packed.tensor(name);
        Tensor ws = packed.tensor(module + ".weight_scale");
        if (q.shape().rank() != 2) throw new BadInputException(source, name + " is not 2-D: " + q.shape());
        if (packed.contains(module + ".weight_zero_point")) {
            throw new BadInputException(source, module + ": asymmetric int-quantized weights are not supported");
        }
        if (!ws.dtype().isFloatingPoint()) throw new BadInputException(source, module + ".weight_scale is " + ws.dtype().wireName());
        int n = Math.toIntExact(q.shape().dim(0)), k = Math.toIntExact(q.shape().dim(1));
        float[] scales = ws.toFloatArray();
        int groups = scales.length == 1 ? 1 : scales.length / n;
        if (scales.length != 1 && ((long) groups * n != scales.length || k % groups != 0)) {
            throw new BadInputException(source, module + ".weight_scale " + ws.shape() + " does not fit weight [" + n + ", " + k + "]");
        }
        int g = k / groups;
        float[] w = new float[n * k];
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < k; c++) {
                float s = scales.length == 1 ? scales[0] : scales[r * groups + c / g];
                w[r * k + c] = q.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, (long) r * k + c) * s;
            }
        }
        return Tensor.ofFloats(name, Shape.of(n, k), w);
    }

    private int[] ints(Tensor t) {
        if (t.dtype() != DType.I32 && t.dtype() != DType.I64) {
            throw new BadInputException(source, "tensor '" + t.name() + "' is " + t.dtype().wireName() + ", expected I32");
        }
        int[] out = new int[Math.toIntExact(t.elementCount())];
        for (int i = 0; i < out.length; i++) out[i] = (int) t.getLong(i);
        return out;
    }

    private short[] shorts(Tensor t, DType expected) {
        if (t.dtype() != expected) {
            throw new BadInputException(source, "tensor '" + t.name() + "' is " + t.dtype().wireName() + ", expected " + expected.wireName());
        }
        short[] out = new short[Math.toIntExact(t.elementCount())];
        for (int i = 0; i < out.length; i++) {
            out[i] = t.data().getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), i);
        }
        return out;
    }

    @Override
    public List<String> names() {
        return List.copyOf(names);
    }

    @Override
    public boolean contains(String name) {
        return modules.containsKey(name) || (packed.contains(name) && !isPackedPart(name));
    }

    @Override
    public Tensor tensor(String name) {
        String module = modules.get(name);
        if (module == null) return packed.tensor(name);
        if (format == Format.INT_QUANTIZED) return intQuantized(module);
        QuantizedTensor q = quantized(module);
        return Tensor.ofFloats(name, Shape.of(q.rows(), q.cols()), q.dequantize());
    }

    @Override
    public Map<String, String> metadata() {
        return packed.metadata();
    }

    @Override
    public void close() {
        packed.close();
    }
}
