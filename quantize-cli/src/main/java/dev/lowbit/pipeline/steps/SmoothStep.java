package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.pipeline.awq.BalancePass;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code smooth}: SmoothQuant's migration s = max|x|^α / max|W|^(1−α), folded into input_layernorm (q,k,v) and
 * post_attention_layernorm (gate,up), and with {@code down_proj: true} also into up_proj's rows (down_proj's input).
 */
final class SmoothStep implements StepType {
    static final List<Param> PARAMS = List.of(
            Param.ofNumber("alpha", 0.5, "migration strength, in (0, 1)"),
            Param.ofBool("down_proj", false, "also smooth down_proj's input into up_proj's rows"));

    @Override
    public String name() {
        return "smooth";
    }

    @Override
    public Role role() {
        return Role.TRANSFORM;
    }

    @Override
    public String description() {
        return "SmoothQuant migration into the norms, needs calibration, before a W8A8 quantizer";
    }

    @Override
    public List<Param> params() {
        return PARAMS;
    }

    @Override
    public Configured configure(String source, Step step, Output output) {
        String where = "step 'smooth'";
        if (output.isGguf()) throw new BadInputException(source, where + ": format gguf does not run transforms yet");
        if (!step.targets().isEmpty() || !step.ignore().isEmpty()) {
            throw new BadInputException(source, where + ": targets/ignore are not supported (smoothing balances whole mappings)");
        }
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), PARAMS, PARAMS, "");
        double alpha = p.get("alpha").doubleValue();
        if (!(alpha > 0 && alpha < 1)) throw new BadInputException(source, where + ": alpha must lie strictly between 0 and 1, got " + alpha);
        return new Transform(step.withParams(p));
    }

    record Transform(Step step) implements TransformStep {
        @Override
        public String name() {
            return "smooth";
        }

        @Override
        public BalancePass.Options options(QuantScheme scheme) {
            ObjectNode p = step.params();
            List<BalancePass.Mapping> m = new ArrayList<>(List.of(BalancePass.Mapping.QKV, BalancePass.Mapping.GATE_UP));
            if (p.get("down_proj").booleanValue()) m.add(BalancePass.Mapping.DOWN);
            return BalancePass.Options.smooth(p.get("alpha").doubleValue(), m);
        }
    }
}
