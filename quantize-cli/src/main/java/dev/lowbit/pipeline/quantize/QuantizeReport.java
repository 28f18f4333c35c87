package dev.lowbit.pipeline.quantize;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;

/**
 * What a quantize run did: where it wrote, how much, and where the time went.
 *
 * @param linearBitsPerWeight bits per weight of the quantized Linears, counting codes, scales, zeros and g_idx
 * @param seconds             wall time by phase (calibration_forward, hessian, solve, pack_write, total)
 * @param widenedGroups       groups whose grid was widened to keep the zero point storable (GPTQ v1 needs z ≥ 1;
 *                            {@link dev.lowbit.ptq.scheme.ZeroFloor})
 */
public record QuantizeReport(String output, String method, String scheme, String format, int quantizedModules,
                             long quantizedParameters, double linearBitsPerWeight, long outputBytes,
                             long sourceBytes, Map<String, Double> seconds, long widenedGroups, Object chosen) {
    /**
     * The manifest figure (and {@code --json} key) holding what the transform steps chose per balance mapping, by step:
     * {@code {"smooth": {"model.layers.0.input_layernorm -> q_proj,k_proj,v_proj": 0.85, …}}}; absent when none searched.
     */
    public static final String CHOSEN = "transform_choices";

    /** A report without transform choices. */
    public QuantizeReport(String output, String method, String scheme, String format, int quantizedModules,
                          long quantizedParameters, double linearBitsPerWeight, long outputBytes, long sourceBytes,
                          Map<String, Double> seconds, long widenedGroups) {
        this(output, method, scheme, format, quantizedModules, quantizedParameters, linearBitsPerWeight, outputBytes, sourceBytes,
                seconds, widenedGroups, null);
    }

    public String toJson() {
        ObjectMapper m = new ObjectMapper();
        ObjectNode o = m.createObjectNode();
        o.put("output", output);
        o.put("method", method);
        o.put("scheme", scheme);
        o.put("format", format);
        o.put("quantized_modules", quantizedModules);
        o.put("quantized_parameters", quantizedParameters);
        o.put("linear_bits_per_weight", linearBitsPerWeight);
        o.put("output_bytes", outputBytes);
        o.put("source_bytes", sourceBytes);
        o.put("widened_groups", widenedGroups);
        o.set("seconds", m.valueToTree(seconds));
        if (chosen != null) o.set(CHOSEN, m.valueToTree(chosen));
        return o.toString();
    }

    public void print(PrintStream out) {
        out.printf(Locale.ROOT, "wrote %s (%s, %s %s)%n", output, format, method, scheme);
        out.printf(Locale.ROOT, "  quantized %d Linears, %,d parameters at %.3f bits per weight (codes + scales + zeros)%n",
                quantizedModules, quantizedParameters, linearBitsPerWeight);
        out.printf(Locale.ROOT, "  size %,d bytes (source %,d, %.2fx smaller)%n", outputBytes, sourceBytes,
                outputBytes == 0 ? 0 : (double) sourceBytes / outputBytes);
        if (widenedGroups > 0) {
            out.printf(Locale.ROOT, "  %,d groups had their grid widened so that the zero point is at least 1 (GPTQ v1 cannot store 0)%n",
                    widenedGroups);
        }
        if (chosen instanceof Map<?, ?> steps) {
            for (Map.Entry<?, ?> st : steps.entrySet()) {
                if (!(st.getValue() instanceof Map<?, ?> byMapping)) continue;
                double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
                for (Object v : byMapping.values()) {
                    if (v instanceof Number n) {
                        lo = Math.min(lo, n.doubleValue());
                        hi = Math.max(hi, n.doubleValue());
                    }
                }
                out.printf(Locale.ROOT, "  %s: α chosen for %d mappings%s (manifest.json / --json: each)%n", st.getKey(), byMapping.size(),
                        lo <= hi ? String.format(Locale.ROOT, ", %.2f to %.2f", lo, hi) : "");
            }
        }
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Double> e : seconds.entrySet()) {
            if (!sb.isEmpty()) sb.append(", ");
            sb.append(e.getKey()).append(' ').append(String.format(Locale.ROOT, "%.1fs", e.getValue()));
        }
        out.println("  time: " + sb);
    }
}
