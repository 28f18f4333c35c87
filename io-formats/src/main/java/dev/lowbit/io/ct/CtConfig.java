package dev.lowbit.io.ct;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.quant.QuantScheme;
import java.util.List;

/** The {@code quantization_config} block of {@code config.json} for a compressed-tensors pack-quantized checkpoint. */
public final class CtConfig {
    private CtConfig() {}

    /**
     * One config group {@code group_0} targeting every {@code Linear}, weight-only (no input activations).
     *
     * @param actorder null (none), {@code "group"}, {@code "weight"} or {@code "static"}
     * @param ignore   module names or {@code re:} patterns left unquantized (e.g. {@code lm_head})
     */
    public static ObjectNode quantizationConfig(QuantScheme scheme, String actorder, List<String> ignore) {
        if (actorder != null && !List.of("group", "weight", "static").contains(actorder)) {
            throw new IllegalArgumentException("actorder must be null, group, weight or static, got " + actorder);
        }
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode c = f.objectNode();
        c.put("quant_method", "compressed-tensors");
        c.put("format", "pack-quantized");
        c.put("quantization_status", "compressed");
        ObjectNode group = c.putObject("config_groups").putObject("group_0");
        group.putArray("targets").add("Linear");
        ObjectNode w = group.putObject("weights");
        w.put("num_bits", scheme.bits());
        w.put("type", "int");
        w.put("symmetric", scheme.symmetric());
        if (scheme.groupSize() == -1) {
            w.putNull("group_size");
            w.put("strategy", "channel");
        } else {
            w.put("group_size", scheme.groupSize());
            w.put("strategy", "group");
        }
        if (actorder == null) w.putNull("actorder");
        else w.put("actorder", actorder);
        w.put("observer", "minmax");
        w.put("dynamic", false);
        group.putNull("input_activations");
        group.putNull("output_activations");
        ArrayNode ig = c.putArray("ignore");
        ignore.forEach(ig::add);
        c.putNull("kv_cache_scheme");
        return c;
    }
}
