package dev.lowbit.io.ct;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.quant.ActivationScheme;
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
        ObjectNode c = header("pack-quantized");
        ObjectNode groupsNode = c.putObject("config_groups");
        for (Map.Entry<QuantScheme, List<String>> g : groups.entrySet()) {
            putGroup(groupsNode.putObject("group_" + groupsNode.size()), g.getKey(), g.getValue(), actorder);
        }
        return footer(c, ignore);
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

    /**
     * The {@code quantization_config} of a compressed-tensors {@code int-quantized} checkpoint: llm-compressor's
     * {@code W8A8} preset (compressed-tensors {@code INT8_W8A8}): weights int 8-bit symmetric per channel
     * ({@code weight} I8 {@code [N, K]}, {@code weight_scale} {@code [N, 1]}), and input activations int 8-bit
     * symmetric, either {@code token} and dynamic (the preset) or {@code tensor} and static (observer {@code minmax},
     * the calibrated {@code input_scale} stored beside each weight), as vLLM's {@code CompressedTensorsW8A8Int8} loads them.
     *
     * @param weights     the weights' scheme: 8 bits, symmetric, per channel (anything else is refused)
     * @param activations the input activations: int 8-bit per token dynamic or per tensor static
     */
    public static ObjectNode intQuantizationConfig(QuantScheme weights, ActivationScheme activations, List<String> ignore) {
        if (weights.bits() != 8 || !weights.symmetric() || weights.groupSize() != -1) {
            throw new IllegalArgumentException("int-quantized W8A8 weights are 8-bit symmetric per channel, not " + weights);
        }
        if (!canStore(activations)) throw new IllegalArgumentException("int-quantized W8A8 stores int8 per-token dynamic or per-tensor static activations, not " + activations);
        ObjectNode c = header(INT_QUANTIZED);
        ObjectNode group = c.putObject("config_groups").putObject("group_0");
        group.putArray("targets").add("Linear");
        ObjectNode w = group.putObject("weights");
        w.put("num_bits", 8);
        w.put("type", "int");
        w.put("symmetric", true);
        w.putNull("group_size");
        w.put("strategy", "channel");
        w.put("dynamic", false);
        w.putNull("actorder");
        w.put("observer", "minmax");
        boolean token = activations.strategy() == ActivationScheme.Strategy.TOKEN;
        putActivations(group, "int", token);
        group.putNull("output_activations");
        return footer(c, ignore);
    }

    /** The compressed-tensors format of int8 weights stored one per byte, with int8 input activations (W8A8). */
    public static final String INT_QUANTIZED = "int-quantized";

    /** Whether an {@code int-quantized} checkpoint can declare {@code a}: int8 per token (dynamic) or per tensor (static). */
    public static boolean canStore(ActivationScheme a) {
        return a.type() == ActivationScheme.Type.INT && a.bits() == 8
                && (a.strategy() == ActivationScheme.Strategy.TOKEN || !a.dynamic());
    }

    /**
     * The {@code quantization_config} of a compressed-tensors float checkpoint: format {@code nvfp4-pack-quantized}
     * (weights {@code float}, 4 bits, {@code tensor_group} of 16, E4M3 scales: llm-compressor's NVFP4A16 preset),
     * {@code mxfp4-pack-quantized} (4 bits, {@code group} of 32, uint8 E8M0 scales: MXFP4A16) or {@code float-quantized}
     * (8 bits, {@code channel}: FP8_DYNAMIC's weights). {@code fp8DynamicTokens} adds FP8_DYNAMIC's input activations
     * (float 8-bit, per token, dynamic): W8A8-FP8; otherwise weight-only.
     */
    public static ObjectNode floatQuantizationConfig(QuantScheme scheme, boolean fp8DynamicTokens, List<String> ignore) {
        String format = CtFloatPacking.format(scheme);
        if (format == null) throw new IllegalArgumentException("compressed-tensors has no format lowbit writes for " + scheme);
        ObjectNode c = header(format);
        ObjectNode group = c.putObject("config_groups").putObject("group_0");
        group.putArray("targets").add("Linear");
        ObjectNode w = group.putObject("weights");
        w.put("num_bits", scheme.bits());
        w.put("type", "float");
        w.put("symmetric", true);
        switch (format) {
            case "nvfp4-pack-quantized" -> {
                w.put("group_size", 16);
                w.put("strategy", "tensor_group");
                w.put("scale_dtype", "torch.float8_e4m3fn");
            }
            case "mxfp4-pack-quantized" -> {
                w.put("group_size", 32);
                w.put("strategy", "group");
                w.put("scale_dtype", "torch.uint8");
            }
            default -> {
                w.putNull("group_size");
                w.put("strategy", "channel");
            }
        }
        w.put("dynamic", false);
        w.putNull("actorder");
        w.put("observer", "minmax");
        if (fp8DynamicTokens) {
            if (!format.equals("float-quantized")) throw new IllegalArgumentException("FP8 dynamic activations go with FP8 weights");
            putActivations(group, "float", true);
        } else {
            group.putNull("input_activations");
        }
        group.putNull("output_activations");
        return footer(c, ignore);
    }

    /** The keys every compressed-tensors {@code quantization_config} starts with. */
    private static ObjectNode header(String format) {
        ObjectNode c = JsonNodeFactory.instance.objectNode();
        c.put("quant_method", "compressed-tensors");
        c.put("format", format);
        c.put("quantization_status", "compressed");
        return c;
    }

    /** The keys it ends with: the modules left unquantized, and no KV-cache scheme. */
    private static ObjectNode footer(ObjectNode c, List<String> ignore) {
        ArrayNode ig = c.putArray("ignore");
        ignore.forEach(ig::add);
        c.putNull("kv_cache_scheme");
        return c;
    }

    /**
     * 8-bit symmetric input activations of {@code type} ({@code int} or {@code float}): per token and dynamic (no
     * observer), or per tensor and static (observer {@code minmax}).
     */
    private static void putActivations(ObjectNode group, String type, boolean dynamicPerToken) {
        ObjectNode a = group.putObject("input_activations");
        a.put("num_bits", 8);
        a.put("type", type);
        a.put("symmetric", true);
        a.putNull("group_size");
        a.put("strategy", dynamicPerToken ? "token" : "tensor");
        a.put("dynamic", dynamicPerToken);
        if (dynamicPerToken) a.putNull("observer");
        else a.put("observer", "minmax");
    }
}
