package dev.lowbit.io.hf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.ct.CtConfig;
import dev.lowbit.io.quant.ActivationScheme;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.util.List;

/**
 * A compressed-tensors {@code int-quantized} checkpoint (llm-compressor's W8A8, vLLM's {@code CompressedTensorsW8A8Int8})
 * presented as the plain checkpoint it stands for. Per quantized Linear: {@code weight} I8 {@code [N, K]} (signed
 * codes, no zero point: symmetric), {@code weight_scale} {@code [N, 1]} (any float dtype), and for static per-tensor
 * activations {@code input_scale} (vLLM keeps its maximum). {@code <module>.weight} reads as ŵ = q · s in F32; the
 * scales and the input scale are not tensors of the model. One config group targeting {@code Linear}; its
 * {@code input_activations} (int 8-bit symmetric, per token dynamic or per tensor static or dynamic) is what the
 * runtime applies to every quantized Linear's input.
 */
public final class IntDequantizingSource extends PackedModuleSource {
    private final ActivationScheme activations;

    private IntDequantizingSource(TensorSource packed, ActivationScheme activations, String source) {
        super(packed, source);
        this.activations = activations;
        index();
    }

    @Override
    protected String moduleOf(String n) {
        return n.endsWith(".weight") && packed.contains(n + "_scale") ? n.substring(0, n.length() - ".weight".length()) : null;
    }

    /** Wraps {@code packed} for the {@code quantization_config} {@code qc} (format {@code int-quantized}). */
    static TensorSource wrap(TensorSource packed, JsonNode qc, String source) {
        String format = CtConfig.INT_QUANTIZED;
        JsonNode groups = qc.path("config_groups");
        if (groups.size() != 1) throw new BadInputException(source, format + ": exactly one config group is supported, got " + groups.size());
        JsonNode group = groups.elements().next();
        JsonNode targets = group.path("targets");
        if (targets.size() != 1 || !"Linear".equals(targets.get(0).asText())) {
            throw new BadInputException(source, format + ": the config group must target Linear, got " + targets);
        }
        JsonNode w = group.path("weights");
        if (!"int".equals(w.path("type").asText()) || w.path("num_bits").asInt() != 8 || !w.path("symmetric").asBoolean(false)
                || !"channel".equals(w.path("strategy").asText())) {
            throw new BadInputException(source, format + ": weights must be int 8-bit symmetric per channel, got " + w);
        }
        JsonNode a = group.path("input_activations");
        ActivationScheme act = null;
        if (!a.isMissingNode() && !a.isNull()) {
            if (!"int".equals(a.path("type").asText()) || a.path("num_bits").asInt() != 8 || !a.path("symmetric").asBoolean(false)) {
                throw new BadInputException(source, format + ": input_activations must be int 8-bit symmetric, got " + a);
            }
            boolean dynamic = a.path("dynamic").asBoolean(false);
            act = switch (a.path("strategy").asText()) {
                case "token" -> {
                    if (!dynamic) throw new BadInputException(source, format + ": per-token input_activations must be dynamic");
                    yield ActivationScheme.intPerToken(8);
                }
                case "tensor" -> new ActivationScheme(ActivationScheme.Type.INT, 8, ActivationScheme.Strategy.TENSOR, dynamic);
                default -> throw new BadInputException(source, format + ": input_activations strategy '" + a.path("strategy").asText()
                        + "' is not supported (token or tensor)");
            };
        }
        return new IntDequantizingSource(packed, act, source);
    }

    @Override
    protected boolean isPart(String n) {
        for (String p : List.of(".weight_scale", ".input_scale")) {
            if (n.endsWith(p) && packed.contains(n.substring(0, n.length() - p.length()) + ".weight")) return true;
        }
        return false;
    }

    /** The declared input activations, or null for weight-only int8. */
    public ActivationScheme activations() {
        return activations;
    }

    /** Whether {@code module} (no {@code .weight}) is a quantized Linear of this checkpoint. */
    public boolean isQuantized(String module) {
        return moduleOfWeight(module + ".weight") != null;
    }

    /** The stored static input scale of {@code module}: the largest of its {@code input_scale} values, as vLLM takes it. */
    public float inputScale(String module) {
        String name = module + ".input_scale";
        if (!packed.contains(name)) throw new BadInputException(source, module + ": static input_activations but no " + name);
        Tensor t = packed.tensor(name);
        if (t.elementCount() < 1) throw new BadInputException(source, name + " is empty");
        float max = 0;
        for (long i = 0; i < t.elementCount(); i++) {
            float v = t.getFloat(i);
            if (!(v > 0) || !Float.isFinite(v)) throw new BadInputException(source, name + " holds " + v + " (a scale must be positive and finite)");
            max = Math.max(max, v);
        }
        return max;
    }

    @Override
    protected Tensor decoded(String name, String module) {
        Tensor q = packed.tensor(name);
        Tensor s = packed.tensor(module + ".weight_scale");
        if (q.dtype() != DType.I8 || q.shape().rank() != 2) {
            throw new BadInputException(source, name + " is " + q.dtype().wireName() + " " + q.shape() + ", expected 2-D I8");
        }
        int n = Math.toIntExact(q.shape().dim(0)), k = Math.toIntExact(q.shape().dim(1));
        if (s.elementCount() != n) throw new BadInputException(source, module + ".weight_scale has " + s.elementCount() + " values, expected [" + n + ", 1]");
        byte[] codes = q.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        float[] w = new float[codes.length];
        for (int r = 0; r < n; r++) {
            float scale = s.getFloat(r);
            if (!Float.isFinite(scale)) throw new BadInputException(source, module + ".weight_scale row " + r + " is " + scale);
            for (int c = 0; c < k; c++) w[r * k + c] = codes[r * k + c] * scale;
        }
        return Tensor.ofFloats(name, Shape.of(n, k), w);
    }
}
