package dev.lowbit.io.hf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.ct.CtPackLayout;
import dev.lowbit.io.ct.CtPacking;
import dev.lowbit.io.ct.CtTensors;
import dev.lowbit.io.gptq.GptqPacking;
import dev.lowbit.io.gptq.GptqTensors;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.io.trit.TritPacking;
import dev.lowbit.io.trit.TritPlaneConfig;
import dev.lowbit.io.trit.TritPlaneTensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Presents a quantized checkpoint (GPTQ v1 {@code qweight/qzeros/scales/g_idx}, AutoAWQ gemm {@code qweight/qzeros/scales}, or compressed-tensors
 * {@code pack-quantized} {@code weight_packed/weight_scale/weight_zero_point}) as the plain checkpoint it stands for:
 * each quantized Linear appears as {@code <module>.weight}, dequantized to F32 on request (one tensor at a time);
 * every other tensor passes through unchanged. This is how {@code lowbit evaluate} runs a quantized checkpoint.
 */
public final class DequantizingSource extends PackedModuleSource {
    public enum Format {
        GPTQ(".qweight", ".qzeros", ".scales", ".g_idx"),
        AWQ(".qweight", ".qzeros", ".scales"),
        COMPRESSED_TENSORS(".weight_packed", ".weight_scale", ".weight_zero_point", ".weight_shape", ".weight_g_idx"),
        /** lowbit's trit-plane layout ({@code docs/FORMATS-trit.md}, {@link TritPlaneTensors}). */
        TRIT_PLANES(TritPlaneTensors.PLANES, TritPlaneTensors.SCALES, TritPlaneTensors.SHAPE, TritPlaneTensors.COLUMNS,
                TritPlaneTensors.SALIENT_MASK, TritPlaneTensors.SALIENT_VALUES, TritPlaneTensors.SALIENT_SCALES);

        private final String marker;
        private final String[] parts;

        Format(String marker, String... parts) {
            this.marker = marker;
            this.parts = parts;
        }
    }

    private final Format format;
    private final QuantScheme scheme;
    private final List<Rule> rules;
    private final CtPackLayout layout;

    /**
     * A per-module scheme from the quantization_config: GPTQModel's {@code dynamic} entries, or a compressed-tensors
     * config group's module names and {@code re:} patterns.
     */
    private record Rule(java.util.function.Predicate<String> matches, QuantScheme scheme) {}

    private DequantizingSource(TensorSource packed, Format format, QuantScheme scheme, List<Rule> rules,
                               CtPackLayout layout, String source) {
        super(packed, source);
        this.format = format;
        this.scheme = scheme;
        this.rules = List.copyOf(rules);
        this.layout = layout;
        index();
    }

    @Override
    protected String moduleOf(String n) {
        return n.endsWith(format.marker) ? n.substring(0, n.length() - format.marker.length()) : null;
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
                if (FloatDequantizingSource.FORMATS.contains(fmt)) return FloatDequantizingSource.wrap(packed, qc, fmt, source);
                if (fmt.equals(dev.lowbit.io.ct.CtConfig.INT_QUANTIZED)) return IntDequantizingSource.wrap(packed, qc, source);
                if (!fmt.equals("pack-quantized")) {
                    throw new BadInputException(source, "compressed-tensors format '" + fmt + "' is not supported (pack-quantized, "
                            + "int-quantized, float-quantized, nvfp4-pack-quantized, mxfp4-pack-quantized)");
                }
                JsonNode groups = qc.path("config_groups");
                if (groups.isEmpty()) throw new BadInputException(source, "compressed-tensors quantization_config has no config groups");
                // a module takes the group that names it, else one whose "re:" pattern matches it, else the "Linear" one
                QuantScheme linear = null;
                List<Rule> names = new ArrayList<>(), patterns = new ArrayList<>();
                for (JsonNode group : groups) {
                    JsonNode w = group.path("weights");
                    if (!"int".equals(w.path("type").asText("int"))) {
                        throw new BadInputException(source, "compressed-tensors weight type '" + w.path("type").asText() + "' is not supported");
                    }
                    String strategy = w.path("strategy").asText("group");
                    int g = strategy.equals("channel") ? -1 : w.path("group_size").asInt(-1);
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
                return new DequantizingSource(packed, Format.COMPRESSED_TENSORS, linear, names, CtPackLayout.WORD_ALIGNED, source);
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
            case TritPlaneConfig.QUANT_METHOD -> {
                TritPlaneConfig.Fields f;
                try {
                    f = TritPlaneConfig.read(qc);
                } catch (IllegalArgumentException e) {
                    throw new BadInputException(source, "quantization_config: " + e.getMessage());
                }
                return new DequantizingSource(packed, Format.TRIT_PLANES, TritPlaneTensors.scheme(f.planes(), f.groupSize(), f.packing()),
                        List.of(), null, source);
            }
            case LowbitDequantized.QUANT_METHOD -> {
                return packed; // the weights are already decoded to f32 under their plain names
            }
            default -> throw new BadInputException(source, "quant_method '" + method + "' is not supported (supported: gptq, compressed-tensors, awq, "
                    + TritPlaneConfig.QUANT_METHOD + ", " + LowbitDequantized.QUANT_METHOD + ")");
        }
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

    @Override
    protected boolean isPart(String n) {
        for (String p : format.parts) {
            if (n.endsWith(p) && packed.contains(n.substring(0, n.length() - p.length()) + format.marker)) {
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
        return moduleOfWeight(name) != null;
    }

    /**
     * The PyTorch shape {@code [out, in]} a quantized Linear's weight has, from its packed tensors without decoding
     * them: GPTQ {@code qweight [in·bits/32, out]}; compressed-tensors {@code weight_shape}.
     */
    public long[] declaredShape(String name) {
        String module = moduleOfWeight(name);
        if (module == null) return packed.tensor(name).shape().dims();
        if (format == Format.GPTQ) {
            Tensor qweight = packed.tensor(module + ".qweight");
            if (qweight.shape().rank() != 2) throw new BadInputException(source, module + ".qweight is not 2-D: " + qweight.shape());
            return new long[] {qweight.shape().dim(1), qweight.shape().dim(0) * 32 / schemeOf(module).bits()};
        }
        if (format == Format.AWQ) {
            Tensor qweight = packed.tensor(module + ".qweight");
            if (qweight.shape().rank() != 2) throw new BadInputException(source, module + ".qweight is not 2-D: " + qweight.shape());
            return new long[] {qweight.shape().dim(1) * 8, qweight.shape().dim(0)};
        }
        Tensor shape = packed.tensor(module + (format == Format.TRIT_PLANES ? TritPlaneTensors.SHAPE : ".weight_shape"));
        if (shape.elementCount() != 2 || shape.dtype().isFloatingPoint()) {
            throw new BadInputException(source, shape.name() + " must hold two integers");
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

    /** The layout-free codes of a quantized module. */
    public QuantizedTensor quantized(String module) {
        try {
            return switch (format) {
                case GPTQ -> gptq(module);
                case AWQ -> awq(module);
                case COMPRESSED_TENSORS -> compressedTensors(module);
                case TRIT_PLANES -> tritPlanes(module);
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

    private QuantizedTensor tritPlanes(String module) {
        Tensor planes = packed.tensor(module + TritPlaneTensors.PLANES);
        Tensor scales = packed.tensor(module + TritPlaneTensors.SCALES);
        long[] dims = declaredShape(module + ".weight");
        Tensor columns = packed.contains(module + TritPlaneTensors.COLUMNS) ? packed.tensor(module + TritPlaneTensors.COLUMNS) : null;
        TritPacking packing = TritPacking.forCodeBits(scheme.codeBits());
        if (columns != null || packing == TritPacking.BITS1) {
            return maskedTritPlanes(module, planes, scales, columns, dims, packing);
        }
        if (packed.contains(module + TritPlaneTensors.SALIENT_MASK)) {
            throw new BadInputException(source, module + TritPlaneTensors.SALIENT_MASK + ": salient weights sit on 1bit planes only, not " + packing.wireName());
        }
        if (planes.dtype() != DType.U8 || planes.shape().rank() != 3) {
            throw new BadInputException(source, planes.name() + " must be U8 [planes, rows, row_bytes], got " + planes.dtype().wireName() + " " + planes.shape());
        }
        if (scales.shape().rank() != 3) throw new BadInputException(source, scales.name() + " must be F16 [planes, rows, groups], got " + scales.shape());
        if (dims[0] < 1 || dims[1] < 1 || dims[0] > Integer.MAX_VALUE || dims[1] > Integer.MAX_VALUE) {
            throw new BadInputException(source, module + TritPlaneTensors.SHAPE + " " + java.util.Arrays.toString(dims) + " is not a matrix shape");
        }
        int n = Math.toIntExact(planes.shape().dim(0)), rows = (int) dims[0], cols = (int) dims[1];
        int groups = Math.toIntExact(scales.shape().dim(2));
        if (scales.shape().dim(0) != n || scales.shape().dim(1) != rows || planes.shape().dim(1) != rows) {
            throw new BadInputException(source, module + ": trit_planes " + planes.shape() + ", trit_scales " + scales.shape()
                    + " and trit_shape " + java.util.Arrays.toString(dims) + " disagree");
        }
        if (groups < 1 || cols % groups != 0 || cols / groups != scheme.groupSize()) {
            throw new BadInputException(source, module + TritPlaneTensors.SCALES + ": " + groups + " groups per row of " + cols
                    + " do not match group_size " + scheme.groupSize());
        }
        byte[] codes = new byte[Math.toIntExact(planes.elementCount())];
        java.lang.foreign.MemorySegment.copy(planes.data(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, codes, 0, codes.length);
        return new TritPlaneTensors(n, rows, cols, groups, packing, codes, shorts(scales, DType.F16)).unpack(module);
    }

    /** Format version 2: planes stored plane by plane, each with the columns its {@code trit_columns} mask names. */
    private QuantizedTensor maskedTritPlanes(String module, Tensor planes, Tensor scales, Tensor columns, long[] dims, TritPacking packing) {
        if (columns == null) throw new BadInputException(source, module + TritPlaneTensors.COLUMNS + " is missing (1bit packing stores column masks)");
        if (columns.dtype() != DType.U8 || columns.shape().rank() != 2 || planes.dtype() != DType.U8 || planes.shape().rank() != 1
                || scales.shape().rank() != 3) {
            throw new BadInputException(source, module + ": trit_columns must be U8 [planes, ceil(cols / 8)], trit_planes U8 [bytes], trit_scales F16 "
                    + "[planes, rows, groups]; got " + columns.shape() + ", " + planes.shape() + ", " + scales.shape());
        }
        if (dims[0] < 1 || dims[1] < 1 || dims[0] > Integer.MAX_VALUE || dims[1] > Integer.MAX_VALUE) {
            throw new BadInputException(source, module + TritPlaneTensors.SHAPE + " " + java.util.Arrays.toString(dims) + " is not a matrix shape");
        }
        int n = Math.toIntExact(columns.shape().dim(0)), rows = (int) dims[0], cols = (int) dims[1];
        int groups = Math.toIntExact(scales.shape().dim(2));
        if (scales.shape().dim(0) != n || scales.shape().dim(1) != rows || columns.shape().dim(1) != TritPlaneTensors.maskBytes(cols)) {
            throw new BadInputException(source, module + ": trit_columns " + columns.shape() + ", trit_scales " + scales.shape()
                    + " and trit_shape " + java.util.Arrays.toString(dims) + " disagree");
        }
        if (groups < 1 || cols % groups != 0 || cols / groups != scheme.groupSize()) {
            throw new BadInputException(source, module + TritPlaneTensors.SCALES + ": " + groups + " groups per row of " + cols
                    + " do not match group_size " + scheme.groupSize());
        }
        byte[] codes = new byte[Math.toIntExact(planes.elementCount())];
        java.lang.foreign.MemorySegment.copy(planes.data(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, codes, 0, codes.length);
        byte[] mask = new byte[Math.toIntExact(columns.elementCount())];
        java.lang.foreign.MemorySegment.copy(columns.data(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, mask, 0, mask.length);
        TritPlaneTensors.Salient salient = salient(module, rows, cols);
        try {
            return new TritPlaneTensors(n, rows, cols, groups, packing, codes, shorts(scales, DType.F16), mask, salient).unpack(module);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(source, module + ": " + e.getMessage());
        }
    }

    /** Format version 3: a Linear's 8-bit salient weights, or null when it has none (all three tensors or none). */
    private TritPlaneTensors.Salient salient(String module, int rows, int cols) {
        String[] parts = {TritPlaneTensors.SALIENT_MASK, TritPlaneTensors.SALIENT_VALUES, TritPlaneTensors.SALIENT_SCALES};
        int present = 0;
        for (String p : parts) if (packed.contains(module + p)) present++;
        if (present == 0) return null;
        if (present != parts.length) throw new BadInputException(source, module + ": trit_salient_mask, trit_salient_values and trit_salient_scales go together");
        Tensor mask = packed.tensor(module + parts[0]), values = packed.tensor(module + parts[1]), scales = packed.tensor(module + parts[2]);
        if (mask.dtype() != DType.U8 || mask.shape().rank() != 2 || mask.shape().dim(0) != rows || mask.shape().dim(1) != TritPlaneTensors.maskBytes(cols)
                || values.dtype() != DType.I8 || values.shape().rank() != 1 || scales.shape().rank() != 1 || scales.shape().dim(0) != rows) {
            throw new BadInputException(source, module + ": trit_salient_mask must be U8 [" + rows + ", " + TritPlaneTensors.maskBytes(cols)
                    + "], trit_salient_values I8 [n], trit_salient_scales F16 [" + rows + "]; got " + mask.dtype().wireName() + " " + mask.shape()
                    + ", " + values.dtype().wireName() + " " + values.shape() + ", " + scales.dtype().wireName() + " " + scales.shape());
        }
        byte[] m = new byte[Math.toIntExact(mask.elementCount())], v = new byte[Math.toIntExact(values.elementCount())];
        java.lang.foreign.MemorySegment.copy(mask.data(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, m, 0, m.length);
        java.lang.foreign.MemorySegment.copy(values.data(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, v, 0, v.length);
        return new TritPlaneTensors.Salient(m, v, shorts(scales, DType.F16));
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
    protected Tensor decoded(String name, String module) {
        QuantizedTensor q = quantized(module);
        return Tensor.ofFloats(name, Shape.of(q.rows(), q.cols()), q.dequantize());
    }
}
