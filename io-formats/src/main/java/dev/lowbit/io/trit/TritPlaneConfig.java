package dev.lowbit.io.trit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * The {@code quantization_config} of a trit-plane checkpoint. It documents itself: besides the fields a reader needs
 * ({@code quant_method}, {@code format_version}, {@code planes}, {@code group_size}, {@code packing}) it carries the
 * tensor names, the code meaning and the dequantization formula as strings.
 */
public final class TritPlaneConfig {
    public static final String QUANT_METHOD = "lowbit-trit-planes";
    /**
     * Version 1: dense planes, base3 or 2bit. Version 2 adds the 1bit packing and per-plane column masks. Version 3 (1bit)
     * adds unstructured 8-bit salient weights per Linear ({@code trit_salient_*}, PB-LLM).
     */
    public static final int VERSION = 3;

    private TritPlaneConfig() {}

    /** What a reader takes from the config (each tensor's own shapes give its plane count and groups). */
    public record Fields(int planes, int groupSize, TritPacking packing, boolean salient) {
        public Fields(int planes, int groupSize, TritPacking packing) {
            this(planes, groupSize, packing, false);
        }
    }

    /**
     * @param method the quantizer that produced the planes (ptqtp, ternary-rtn), recorded for people
     * @param ignore decoder Linears left unquantized (and lm_head)
     */
    public static ObjectNode quantizationConfig(Fields f, String method, List<String> ignore) {
        return quantizationConfig(f, method, ignore, false);
    }

    /** @param salient some Linear carries 8-bit salient weights (format version 3) */
    public static ObjectNode quantizationConfig(Fields f, String method, List<String> ignore, boolean salient) {
        ObjectNode c = JsonNodeFactory.instance.objectNode();
        c.put("quant_method", QUANT_METHOD);
        boolean masked = f.packing() == TritPacking.BITS1;
        if (salient && !masked) throw new IllegalArgumentException("salient weights sit on 1bit planes only");
        c.put("format_version", salient ? 3 : masked ? 2 : 1);
        c.put("method", method);
        c.put("planes", f.planes());
        c.put("group_size", f.groupSize());
        c.put("packing", f.packing().wireName());
        c.put("scale_dtype", "float16");
        if (!masked) c.put("bits_per_weight", f.planes() * f.packing().bitsPerTrit() + f.planes() * 16.0 / f.groupSize());
        ObjectNode t = c.putObject("tensors");
        t.put("trit_planes", switch (f.packing()) {
            case BASE3 -> "U8 [planes, out_features, row_bytes]: codes q = t + 1 (t in {-1, 0, 1}); "
                    + "base3: 5 per byte, byte k = sum_n q[5k+n] * 3^n (0..242), row padded with q = 1";
            case BITS2 -> "U8 [planes, out_features, row_bytes]: codes q = t + 1 (t in {-1, 0, 1}); "
                    + "2bit: 4 per byte, element c at bits 2*(c % 4) of byte c / 4, row padded with q = 1";
            case BITS1 -> "U8 [sum_p out_features * ceil(n_p / 8)]: plane after plane, each row holds the n_p columns plane p "
                    + "stores (trit_columns), in column order; 1bit: element j at bit j % 8 of byte j / 8, bit 1: t = +1, bit 0: t = -1, "
                    + "padding bits 0; columns a plane does not store have t = 0";
        });
        if (masked) t.put("trit_columns", "U8 [planes, ceil(in_features / 8)]: bit c % 8 of byte c / 8 set when plane p stores column c");
        t.put("trit_scales", "F16 [planes, out_features, in_features / group_size]");
        t.put("trit_shape", "I64 [2] = [out_features, in_features]");
        if (salient) {
            t.put("trit_salient_mask", "U8 [out_features, ceil(in_features / 8)]: bit c % 8 of byte c / 8 of row r set when W[r, c] is salient "
                    + "(its plane bits are 0 and ignored)");
            t.put("trit_salient_values", "I8 [n]: the n salient codes (-127..127), row by row, in column order");
            t.put("trit_salient_scales", "F16 [out_features]: W[r, c] = trit_salient_scales[r] * value for a salient weight");
        }
        c.put("dequantize", (salient ? "salient W[r, c] = trit_salient_scales[r] * value; else " : "")
                + "W[r, c] = sum_p trit_scales[p, r, c / group_size] * (q_p[r, c] - 1)");
        ArrayNode ig = c.putArray("ignore");
        ignore.forEach(ig::add);
        return c;
    }

    /** The reader's fields, or an {@link IllegalArgumentException} saying which one is wrong. */
    public static Fields read(JsonNode qc) {
        int version = qc.path("format_version").asInt(-1);
        if (version < 1 || version > VERSION) {
            throw new IllegalArgumentException("trit-plane format_version " + qc.path("format_version") + " is not supported (1.." + VERSION + ")");
        }
        int planes = qc.path("planes").asInt(0);
        if (planes < 1 || planes > 8) throw new IllegalArgumentException("trit-plane planes must be 1..8, got " + qc.path("planes"));
        int g = qc.path("group_size").asInt(0);
        if (g < 1) throw new IllegalArgumentException("trit-plane group_size must be positive, got " + qc.path("group_size"));
        TritPacking p = TritPacking.fromWire(qc.path("packing").asText(""));
        if (p == null || (p == TritPacking.BITS1) != (version >= 2)) {
            throw new IllegalArgumentException("trit-plane packing '" + qc.path("packing").asText("") + "' is not base3 or 2bit (version 1) or 1bit (versions 2, 3)");
        }
        return new Fields(planes, g, p, version == 3);
    }
}
