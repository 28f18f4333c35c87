package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Step types by name. A recipe's {@code "type": "gptq"} is looked up here; an unknown name is bad input that names it
 * and lists the known ones. Register a new step (e.g. {@code awq}) by adding its {@link StepType} to {@link #DEFAULT}.
 */
public final class StepRegistry {
    /** The steps lowbit has. */
    public static final StepRegistry DEFAULT = new StepRegistry(List.of(new RtnStep(), new GptqStep(), new PtqtpStep(), new TernaryRtnStep(), new BinarizeStep(), new PbllmStep(),
            new AwqStep(), new SmoothStep(), new RotateStep()));

    private final Map<String, StepType> byName = new LinkedHashMap<>();

    public StepRegistry(List<StepType> types) {
        for (StepType t : types) {
            if (byName.put(t.name(), t) != null) throw new IllegalArgumentException("two steps named " + t.name());
        }
    }

    /** The step type called {@code name}; bad input naming it and the known steps if there is none. */
    public StepType get(String source, String name) {
        StepType t = byName.get(name);
        if (t == null) {
            throw new BadInputException(source, "unknown step '" + name + "' (known steps: " + String.join(", ", byName.keySet()) + ")");
        }
        return t;
    }

    public Collection<StepType> all() {
        return byName.values();
    }

    /** Names of the steps with this role, e.g. {@code rtn, gptq} for quantizers. */
    public List<String> names(StepType.Role role) {
        return byName.values().stream().filter(t -> t.role() == role).map(StepType::name).toList();
    }

    /** {@code --list-steps}: one line per step (name, role, description), then its parameters with defaults. */
    public String listing() {
        StringBuilder sb = new StringBuilder();
        for (StepType t : byName.values()) {
            sb.append(String.format(java.util.Locale.ROOT, "%-6s %-9s  %s%n", t.name(), t.role().name().toLowerCase(java.util.Locale.ROOT),
                    t.description()));
            for (Param p : t.params()) {
                sb.append(String.format(java.util.Locale.ROOT, "    %-22s %s%n", p, p.description()));
            }
        }
        return sb.toString();
    }

    /**
     * Checks a step's parameters and fills in defaults: every key must be one of {@code all}; keys in {@code all} but
     * not in {@code accepted} are refused with {@code notAccepted} as the reason (e.g. a grid parameter for a GGUF
     * target, whose type fixes the grid). Returns the parameters of {@code accepted} in declaration order.
     */
    public static ObjectNode resolve(String source, String where, ObjectNode given, List<Param> accepted, List<Param> all,
                                     String notAccepted) {
        for (Iterator<Map.Entry<String, JsonNode>> it = given.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Param p = find(all, e.getKey());
            if (p == null) {
                throw new BadInputException(source, where + ": unknown parameter '" + e.getKey() + "' (parameters: "
                        + String.join(", ", all.stream().map(Param::name).toList()) + ")");
            }
            if (find(accepted, e.getKey()) == null) throw new BadInputException(source, where + ": '" + e.getKey() + "' " + notAccepted);
            p.check(source, where, e.getValue());
        }
        ObjectNode out = given.objectNode();
        for (Param p : accepted) out.set(p.name(), given.has(p.name()) ? given.get(p.name()) : p.defaultValue());
        return out;
    }

    private static Param find(List<Param> ps, String name) {
        for (Param p : ps) {
            if (p.name().equals(name)) return p;
        }
        return null;
    }
}
