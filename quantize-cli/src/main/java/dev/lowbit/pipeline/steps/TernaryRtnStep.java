package dev.lowbit.pipeline.steps;

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
final class TernaryRtnStep extends TritStep {
    static final List<Param> PARAMS = List.of(groupSize(256, "input channels per absmax scale"));

    TernaryRtnStep() {
        super("ternary-rtn", "ternary absmax round-to-nearest, one plane (format trit-planes)", PARAMS);
    }

    @Override
    void checkOutput(String source, String where, Output output) {
        if (output.isGguf()) {
            throw new BadInputException(source, where + ": for a GGUF file use --format gguf --type TQ1_0 or TQ2_0 (llama.cpp's own ternary rounding, the same codes)");
        }
    }

    @Override
    Configured quantizer(Step step, int groupSize) {
        return new Quantizer(step, TritPlaneTensors.scheme(1, groupSize, TritPacking.BASE3));
    }

    record Quantizer(Step step, QuantScheme scheme) implements TritStep.Quantizer {
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
