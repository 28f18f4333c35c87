package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.ternary.PbllmGrid;
import java.util.List;

/**
 * {@code pb-llm}: PB-LLM ({@link PbllmGrid}): the Hessian-salient fraction of the weights kept at 8 bits (unstructured,
 * with a per-weight mask), the rest binarized, GPTQ error feedback. Needs calibration. Output: format
 * {@code trit-planes} version 3 (one 1-bit plane + {@code trit_salient_*}); the bits per weight count the mask.
 */
final class PbllmStep extends TritStep {
    static final List<Param> PARAMS = List.of(
            groupSize(512, "input channels per binary scale (must divide every row)"),
            Param.ofNumber("salient_fraction", 0.1, "fraction of each matrix's weights (largest w²/[U]²_cc) kept at 8 bits"),
            DAMP,
            BLOCK);

    PbllmStep() {
        super("pb-llm", "PB-LLM: Hessian-salient weights at 8 bits (masked), the rest binarized, GPTQ feedback (format trit-planes)", PARAMS);
    }

    @Override
    void check(String source, String where, ObjectNode p) {
        double f = p.get("salient_fraction").doubleValue();
        if (!(f >= 0 && f < 1)) throw new BadInputException(source, where + ": salient_fraction must be in [0, 1), got " + f);
    }

    @Override
    Configured quantizer(Step step, int groupSize) {
        return new Quantizer(step, PbllmGrid.scheme(groupSize));
    }

    record Quantizer(Step step, QuantScheme scheme) implements TritStep.Quantizer {
        @Override
        public String name() {
            return "pb-llm";
        }

        @Override
        public boolean needsCalibration() {
            return true;
        }

        @Override
        public QuantizedTensor quantize(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian) {
            int count = (int) Math.round(number("salient_fraction") * rows * cols);
            byte[] mask = PbllmGrid.salientMask(weight, rows, cols, TritSteps.hinvCholeskyDiagonal(module, hessian, cols, dampPercent()), count);
            PbllmGrid grid = new PbllmGrid(module, s, weight, rows, cols, mask);
            Gptq.sweep(module, weight, rows, cols, hessian, sweepOptions(), grid, Linalg.kernels());
            return grid.result();
        }
    }
}
