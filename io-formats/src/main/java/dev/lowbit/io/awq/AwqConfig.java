package dev.lowbit.io.awq;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** The {@code quantization_config} of an AutoAWQ {@code gemm} checkpoint. */
public final class AwqConfig {
    private AwqConfig() {}

    /**
     * {@code {"quant_method": "awq", "bits": 4, "group_size": G, "zero_point": true, "version": "gemm",
     * "modules_to_not_convert": [...] or null}}; {@code groupSize} is the stored group size (K for per channel).
     */
    public static ObjectNode quantizationConfig(int groupSize, List<String> modulesToNotConvert) {
        ObjectNode c = JsonNodeFactory.instance.objectNode();
        c.put("quant_method", "awq");
        c.put("bits", 4);
        c.put("group_size", groupSize);
        c.put("zero_point", true);
        c.put("version", "gemm");
        if (modulesToNotConvert == null || modulesToNotConvert.isEmpty()) {
            c.putNull("modules_to_not_convert");
        } else {
            var a = c.putArray("modules_to_not_convert");
            modulesToNotConvert.forEach(a::add);
        }
        return c;
    }
}
