package dev.lowbit.io.gptq;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.quant.QuantScheme;
import java.util.Map;

/**
 * The {@code quantization_config} block of {@code config.json} for a GPTQ v1 checkpoint.
 *
 * <p>Tuning fields ({@code damp_percent}, {@code true_sequential}, {@code static_groups}) are written both at top
 * level (older AutoGPTQ readers) and under {@code meta} (GPTQModel); readers need neither.
 */
public final class GptqConfig {
    private GptqConfig() {}

    /**
     * @param descAct       act-order was used (g_idx is then non-monotone unless {@code staticGroups})
     * @param staticGroups  groups were fixed before act-order reordering
     * @param dampPercent   Hessian dampening as a fraction of the mean diagonal (e.g. 0.01)
     * @param trueSequential sub-modules of a layer were quantized in order
     */
    public static ObjectNode quantizationConfig(QuantScheme scheme, boolean descAct, boolean staticGroups,
                                                double dampPercent, boolean trueSequential) {
        if (!GptqPacking.supportsBits(scheme.bits())) {
            throw new IllegalArgumentException("GPTQ packs 2, 3, 4 or 8 bits, not " + scheme.bits());
        }
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode c = f.objectNode();
        c.put("quant_method", "gptq");
        c.put("bits", scheme.bits());
        c.put("group_size", scheme.groupSize());
        c.put("desc_act", descAct);
        c.put("sym", scheme.symmetric());
        c.put("checkpoint_format", "gptq");
        c.put("static_groups", staticGroups);
        c.put("damp_percent", dampPercent);
        c.put("true_sequential", trueSequential);
        ObjectNode meta = c.putObject("meta");
        meta.putArray("quantizer").add("lowbit");
        meta.put("damp_percent", dampPercent);
        meta.put("static_groups", staticGroups);
        meta.put("true_sequential", trueSequential);
        return c;
    }

    /**
     * Adds GPTQModel's per-module overrides: {@code "dynamic": {"+:^<escaped name>$": {"bits": b, "group_size": g,
     * "sym": s}}} for every module whose scheme differs from the top-level one, and {@code "-:^<escaped name>$": {}}
     * for every module left unquantized (keys are Python regexes matched against the module name).
     */
    public static void putDynamic(ObjectNode config, Map<String, QuantScheme> modules, java.util.List<String> unquantized) {
        ObjectNode d = config.putObject("dynamic");
        for (String m : unquantized) d.putObject("-:^" + m.replace(".", "\\.") + "$");
        for (Map.Entry<String, QuantScheme> e : modules.entrySet()) {
            QuantScheme s = e.getValue();
            if (!GptqPacking.supportsBits(s.bits())) {
                throw new IllegalArgumentException("GPTQ packs 2, 3, 4 or 8 bits, not " + s.bits());
            }
            ObjectNode o = d.putObject("+:^" + e.getKey().replace(".", "\\.") + "$");
            o.put("bits", s.bits());
            o.put("group_size", s.groupSize());
            o.put("sym", s.symmetric());
        }
    }
}
