package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.ptq.smooth.SmoothQuantTransform;
import dev.lowbit.ptq.transform.WeightTransform;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
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
        if (!step.targets().isEmpty() || !step.ignore().isEmpty()) {
            throw new BadInputException(source, where + ": targets/ignore are not supported (smoothing balances whole mappings)");
        }
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), PARAMS, PARAMS, "");
        double alpha = p.get("alpha").doubleValue();
        if (!(alpha > 0 && alpha < 1)) throw new BadInputException(source, where + ": alpha must lie strictly between 0 and 1, got " + alpha);
        Step resolved = step.withParams(p);
        java.util.Set<TensorRole> producers = java.util.EnumSet.of(TensorRole.INPUT_NORM, TensorRole.POST_ATTENTION_NORM);
        if (p.get("down_proj").booleanValue()) producers.add(TensorRole.UP);
        return new TransformStep() {
            @Override
            public Step step() {
                return resolved;
            }

            @Override
            public WeightTransform transform() {
                return new SmoothQuantTransform(alpha, producers, msg -> System.err.println("lowbit: " + msg));
            }
        };
    }
}
