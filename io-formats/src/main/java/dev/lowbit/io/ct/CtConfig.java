package dev.lowbit.io.ct;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.quant.QuantScheme;
import java.util.List;
import java.util.Map;

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
        return quantizationConfig(Map.of(scheme, List.of("Linear")), actorder, ignore);
    }

    /**
     * One config group per scheme ({@code group_0}, {@code group_1} … in map order), each targeting the listed
     * module names (or {@code Linear}), for checkpoints whose modules do not all share one scheme.
     */
    public static ObjectNode quantizationConfig(Map<QuantScheme, List<String>> groups, String actorder, List<String> ignore) {
        if (actorder != null && !List.of("group", "weight", "static").contains(actorder)) {
            throw new IllegalArgumentException("actorder must be null, group, weight or static, got " + actorder);
        }
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode c = f.objectNode();
        c.put("quant_method", "compressed-tensors");
        c.put("format", "pack-quantized");
        c.put("quantization_status", "compressed");
        ObjectNode groupsNode = c.putObject("config_groups");
        for (Map.Entry<QuantScheme, List<String>> g : groups.entrySet()) {
            putGroup(groupsNode.putObject("group_" + groupsNode.size()), g.getKey(), g.getValue(), actorder);
        }
        ArrayNode ig = c.putArray("ignore");
        ignore.forEach(ig::add);
        c.putNull("kv_cache_scheme");
        return c;
    }

    private static void putGroup(ObjectNode group, QuantScheme scheme, List<String> targets, String actorder) {
        ArrayNode t = group.putArray("targets");
        targets.forEach(t::add);
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
    }
}
