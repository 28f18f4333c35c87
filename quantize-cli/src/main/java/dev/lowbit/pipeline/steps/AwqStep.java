package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.pipeline.awq.BalancePass;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.rtn.Rtn;
import java.util.List;

/**
 * {@code awq}: activation-aware scale search (α on a grid, scored by the block output with the quantizer's grid) and
 * clip search, folded into the norms and Linears before the quantizer (RTN, GPTQ).
 */
final class AwqStep implements StepType {
    static final List<Param> PARAMS = List.of(
            Param.ofBool("scale", true, "search per-channel scales per balance mapping"),
            Param.ofBool("clip", true, "search per-group clipping thresholds (every Linear but q, k)"),
            Param.ofBool("duo", true, "AutoAWQ's weight-normalised scales (false: x_mean^alpha, llm-awq)"),
            Param.ofInt("grid", 20, "alpha = i/grid, i = 0..grid-1"),
            Param.ofInt("search_windows", 16, "calibration windows that score candidates and feed the clip search"));

    @Override
    public String name() {
        return "awq";
    }

    @Override
    public Role role() {
        return Role.TRANSFORM;
    }

    @Override
    public String description() {
        return "AWQ scales + clipping, needs calibration, before rtn or gptq";
    }

    @Override
    public List<Param> params() {
        return PARAMS;
    }

    @Override
    public Configured configure(String source, Step step, Output output) {
        String where = "step 'awq'";
        if (output.isGguf()) throw new BadInputException(source, where + ": format gguf does not run transforms yet");
        if (!step.targets().isEmpty() || !step.ignore().isEmpty()) {
            throw new BadInputException(source, where + ": targets/ignore are not supported (AWQ balances whole mappings)");
        }
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), PARAMS, PARAMS, "");
        int grid = p.get("grid").intValue();
        int windows = p.get("search_windows").intValue();
        if (grid < 1 || grid > 1000) throw new BadInputException(source, where + ": grid must be 1..1000, got " + grid);
        if (windows < 1) throw new BadInputException(source, where + ": search_windows must be at least 1, got " + windows);
        if (!p.get("scale").booleanValue() && !p.get("clip").booleanValue()) {
            throw new BadInputException(source, where + ": scale and clip are both false: the step would do nothing");
        }
        return new Transform(step.withParams(p));
    }

    record Transform(Step step) implements TransformStep {
        @Override
        public String name() {
            return "awq";
        }

        @Override
        public BalancePass.Options options(QuantScheme scheme) {
            ObjectNode p = step.params();
            return new BalancePass.Options(BalancePass.Method.AWQ, scheme, p.get("grid").intValue(), p.get("duo").booleanValue(),
                    p.get("clip").booleanValue(), Double.NaN,
                    p.get("scale").booleanValue() ? List.of(BalancePass.Mapping.values()) : List.of(),
                    p.get("search_windows").intValue(), (w, r, c) -> Rtn.rtn("awq-search", w, r, c, scheme).dequantize());
        }
    }
}
