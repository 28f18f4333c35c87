package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.trit.TritPacking;
import dev.lowbit.io.trit.TritPlaneTensors;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.ternary.TernaryRtn;
import java.util.List;

/**
 * {@code ternary-rtn}: one ternary plane, absmax scale per block (llama.cpp's TQ1_0/TQ2_0 rounding; the collapse
 * baseline). Output: format {@code trit-planes}; for a llama.cpp file use {@code --format gguf --type TQ1_0|TQ2_0}.
 */
final class TernaryRtnStep implements StepType {
    static final List<Param> PARAMS = List.of(Param.ofInt("group_size", 256, "input channels per absmax scale"));

    @Override
    public String name() {
        return "ternary-rtn";
    }

    @Override
    public Role role() {
        return Role.QUANTIZER;
    }

    @Override
    public String description() {
        return "ternary absmax round-to-nearest, one plane (format trit-planes)";
    }

    @Override
    public List<Param> params() {
        return PARAMS;
    }

    @Override
    public Configured configure(String source, Step step, Output output) {
        String where = "step 'ternary-rtn'";
        if (output.isGguf()) {
            throw new BadInputException(source, where + ": for a GGUF file use --format gguf --type TQ1_0 or TQ2_0 (llama.cpp's own ternary rounding, the same codes)");
        }
        TritSteps.requireTritPlanes(source, where, output);
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), PARAMS, PARAMS, "");
        int g = p.get("group_size").intValue();
        if (g < 1) throw new BadInputException(source, where + ": group_size must be positive, got " + g);
        return new Quantizer(step.withParams(p), TritPlaneTensors.scheme(1, g, TritPacking.BASE3));
    }

    record Quantizer(Step step, QuantScheme scheme) implements QuantizerStep {
        @Override
        public String name() {
            return "ternary-rtn";
        }

        @Override
        public boolean needsCalibration() {
            return false;
        }

        @Override
        public QuantizedTensor quantize(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian) {
            return TernaryRtn.quantize(module, weight, rows, cols, s);
        }
    }
}
