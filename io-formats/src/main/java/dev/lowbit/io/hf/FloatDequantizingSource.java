package dev.lowbit.io.hf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.ct.CtFloatPacking;
import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.util.List;
import java.util.Set;

/**
 * A compressed-tensors float checkpoint ({@code nvfp4-pack-quantized}, {@code mxfp4-pack-quantized},
 * {@code float-quantized}: see {@link CtFloatPacking}) presented as the plain checkpoint it stands for: each quantized
 * Linear appears as {@code <module>.weight}, dequantized to F32 on request; every other tensor passes through. One
 * config group targeting {@code Linear}; FP8 weights per channel ({@code weight_scale [N, 1]}) or per tensor
 * ({@code [1]}, read as the same scale on every row).
 */
public final class FloatDequantizingSource extends PackedModuleSource {
    /** The compressed-tensors formats this reads. */
    public static final Set<String> FORMATS = Set.of("nvfp4-pack-quantized", "mxfp4-pack-quantized", "float-quantized");

    private final String format;
    private final boolean dynamicTokenActivations;

    private FloatDequantizingSource(TensorSource packed, String format, boolean dynamicTokenActivations, String source) {
        super(packed, source);
        this.format = format;
        this.dynamicTokenActivations = dynamicTokenActivations;
        index();
    }

    @Override
    protected String moduleOf(String n) {
        if (!format.equals("float-quantized")) {
            return n.endsWith(".weight_packed") ? n.substring(0, n.length() - ".weight_packed".length()) : null;
        }
        return n.endsWith(".weight") && packed.contains(n + "_scale") ? n.substring(0, n.length() - ".weight".length()) : null;
    }

    /** Wraps {@code packed} for the compressed-tensors {@code quantization_config} {@code qc} of format {@code format}. */
    static TensorSource wrap(TensorSource packed, JsonNode qc, String format, String source) {
        JsonNode groups = qc.path("config_groups");
        if (groups.size() != 1) throw new BadInputException(source, format + ": exactly one config group is supported, got " + groups.size());
        JsonNode group = groups.elements().next();
        JsonNode w = group.path("weights");
        if (!"float".equals(w.path("type").asText())) {
            throw new BadInputException(source, format + ": config group weights.type must be 'float', got '" + w.path("type").asText() + "'");
        }
        int bits = w.path("num_bits").asInt(0);
        int want = format.equals("float-quantized") ? 8 : 4;
        if (bits != want) throw new BadInputException(source, format + ": weights.num_bits must be " + want + ", got " + bits);
        JsonNode targets = group.path("targets");
        if (targets.size() != 1 || !"Linear".equals(targets.get(0).asText())) {
            throw new BadInputException(source, format + ": the config group must target Linear, got " + targets);
        }
        JsonNode act = group.path("input_activations");
        boolean dynamicTokens = false;
        if (!act.isMissingNode() && !act.isNull()) {
            dynamicTokens = format.equals("float-quantized") && "float".equals(act.path("type").asText())
                    && act.path("num_bits").asInt() == 8 && "token".equals(act.path("strategy").asText()) && act.path("dynamic").asBoolean();
            if (!dynamicTokens) throw new BadInputException(source, format + ": input_activations other than FP8 dynamic per token are not supported");
        }
        return new FloatDequantizingSource(packed, format, dynamicTokens, source);
    }

    @Override
    protected boolean isPart(String n) {
        for (String p : List.of(".weight_scale", ".weight_global_scale")) {
            if (n.endsWith(p)) {
                String base = n.substring(0, n.length() - p.length());
                if (packed.contains(base + ".weight_packed") || (format.equals("float-quantized") && packed.contains(base + ".weight"))) return true;
            }
        }
        return false;
    }

    public String format() {
        return format;
    }

    /** Whether the config asks for FP8 dynamic per-token input activations (W8A8-FP8). */
    public boolean dynamicTokenActivations() {
        return dynamicTokenActivations;
    }

    /** The layout-free codes of a quantized module. */
    public QuantizedTensor quantized(String module) {
        try {
            return decode(module);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(source, module + ": " + e.getMessage());
        }
    }

    private QuantizedTensor decode(String module) {
        if (format.equals("float-quantized")) {
            Tensor w = packed.tensor(module + ".weight");
            Tensor s = packed.tensor(module + ".weight_scale");
            if (w.dtype() != DType.F8_E4M3 && w.dtype() != DType.F8_E5M2) {
                throw new IllegalArgumentException(".weight is " + w.dtype().wireName() + ", expected F8_E4M3 or F8_E5M2");
            }
            if (w.shape().rank() != 2) throw new IllegalArgumentException(".weight is not 2-D: " + w.shape());
            int n = Math.toIntExact(w.shape().dim(0)), k = Math.toIntExact(w.shape().dim(1));
            if (s.elementCount() != n && s.elementCount() != 1) {
                throw new IllegalArgumentException(".weight_scale has " + s.elementCount() + " values, expected [" + n + ", 1] or [1]");
            }
            float[] scales = new float[n];
            for (int r = 0; r < n; r++) scales[r] = s.getFloat(s.elementCount() == 1 ? 0 : r);
            QuantScheme scheme = FloatSchemes.fp8(w.dtype() == DType.F8_E5M2 ? ElementType.E5M2 : ElementType.E4M3, true);
            return CtFloatPacking.unpack(module, new CtFloatPacking.Tensors(format, n, k, bytes(w), null, scales, Float.NaN), scheme);
        }
        boolean nv = format.equals("nvfp4-pack-quantized");
        Tensor wp = packed.tensor(module + ".weight_packed");
        Tensor ws = packed.tensor(module + ".weight_scale");
        if (wp.dtype() != DType.U8 || wp.shape().rank() != 2) throw new IllegalArgumentException(".weight_packed must be 2-D U8, got " + wp.dtype().wireName() + " " + wp.shape());
        DType scaleType = nv ? DType.F8_E4M3 : DType.U8;
        if (ws.dtype() != scaleType) throw new IllegalArgumentException(".weight_scale is " + ws.dtype().wireName() + ", expected " + scaleType.wireName());
        int n = Math.toIntExact(wp.shape().dim(0)), k = Math.toIntExact(wp.shape().dim(1) * 2);
        float g = Float.NaN;
        if (nv) {
            Tensor gs = packed.tensor(module + ".weight_global_scale");
            if (gs.dtype() != DType.F32 || gs.elementCount() != 1) throw new IllegalArgumentException(".weight_global_scale must be one F32");
            g = gs.getFloat(0);
        }
        QuantScheme scheme = nv ? FloatSchemes.NVFP4 : FloatSchemes.MXFP4;
        return CtFloatPacking.unpack(module, new CtFloatPacking.Tensors(format, n, k, bytes(wp), bytes(ws), null, g), scheme);
    }

    private static byte[] bytes(Tensor t) {
        return t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    @Override
    protected Tensor decoded(String name, String module) {
        QuantizedTensor q = quantized(module);
        return Tensor.ofFloats(name, Shape.of(q.rows(), q.cols()), q.dequantize());
    }
}
