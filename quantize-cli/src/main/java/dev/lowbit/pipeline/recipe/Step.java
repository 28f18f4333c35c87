package dev.lowbit.pipeline.recipe;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.regex.Pattern;

/**
 * One entry of a recipe's {@code steps}, as written: the step type (a name in the step registry), which modules it
 * applies to, and its parameters (checked by the step type, not here).
 *
 * @param type    e.g. {@code gptq}
 * @param targets regexes searched in module names (e.g. {@code model.layers.3.mlp.down_proj}); empty = every Linear
 *                inside the decoder layers
 * @param ignore  regexes of modules the step leaves alone (applied after {@code targets})
 * @param params  every other key of the step object, in recipe order
 */
public record Step(String type, List<String> targets, List<String> ignore, ObjectNode params) {
    public Step {
        targets = targets == null ? List.of() : List.copyOf(targets);
        ignore = ignore == null ? List.of() : List.copyOf(ignore);
        params = params == null ? JsonNodeFactory.instance.objectNode() : params.deepCopy();
    }

    @Override
    public ObjectNode params() {
        return params.deepCopy();
    }

    /** Whether the module is selected by {@code targets} and not excluded by {@code ignore}. */
    public boolean selects(String module) {
        boolean in = targets.isEmpty() || targets.stream().anyMatch(p -> Pattern.compile(p).matcher(module).find());
        return in && ignore.stream().noneMatch(p -> Pattern.compile(p).matcher(module).find());
    }

    /** The same step with other parameters. */
    public Step withParams(ObjectNode p) {
        return new Step(type, targets, ignore, p);
    }
}
