package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.rotate.RotateTransform;
import dev.lowbit.ptq.transform.WeightTransform;
import java.util.List;

/**
 * {@code rotate}: R1 + R2 randomised Hadamard rotation with norm folding ({@link RotateTransform}), before the
 * quantizer. A whole-model transform: it rotates every Linear, so {@code targets}/{@code ignore} do not apply (the
 * quantizer's own select what is quantized). The online R3/R4 are not a recipe step: no writer of this pipeline can
 * express them ({@code --rotate-online --method none} writes them for lowbit's runtime).
 */
final class RotateStep implements StepType {
    static final List<Param> PARAMS = List.of(
            Param.ofInt("seed", 0, "seed of the random Hadamard signs (R1; each layer's R2 derives from it)"));

    @Override
    public String name() {
        return "rotate";
    }

    @Override
    public Role role() {
        return Role.TRANSFORM;
    }

    @Override
    public String description() {
        return "R1+R2 random Hadamard rotation, norms folded (same function; outliers spread), data-free";
    }

    @Override
    public List<Param> params() {
        return PARAMS;
    }

    @Override
    public Configured configure(String source, Step step, Output output) {
        String where = "step 'rotate'";
        if (!step.targets().isEmpty() || !step.ignore().isEmpty()) {
            throw new BadInputException(source, where + ": targets/ignore do not apply: the rotation is a whole-model "
                    + "transform (select what is quantized in the quantizer step)");
        }
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), PARAMS, PARAMS, "");
        long seed = p.get("seed").asLong();
        Step resolved = step.withParams(p);
        return new StepType.TransformStep() {
            @Override
            public Step step() {
                return resolved;
            }

            @Override
            public WeightTransform transform() {
                return new RotateTransform(seed);
            }
        };
    }
}
