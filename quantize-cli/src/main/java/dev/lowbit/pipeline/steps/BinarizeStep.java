package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.ternary.BinaryGrid;
import java.util.List;

/**
 * {@code binarize}: sign plane + residual sign plane on the Hessian-salient columns ({@link BinaryGrid}, BiLLM's
 * structure without its uncounted split bit), GPTQ error feedback across columns. With {@code salient_fraction: 0} and
 * {@code error_feedback: false} it is binary RTN (sign·mean|w| per row-group), data-free. Output: format
 * {@code trit-planes} (1-bit packing, the residual plane stores its salient columns only).
 */
final class BinarizeStep extends TritStep {
    static final List<Param> PARAMS = List.of(
            groupSize(512, "input channels per pair of scales (must divide every row)"),
            Param.ofNumber("salient_fraction", 0.1, "fraction of each matrix's columns (largest Σ w²/[U]²_cc) that get a residual sign"),
            Param.ofBool("error_feedback", true, "GPTQ sweep pushing each column's error onto later ones (needs calibration)"),
            DAMP,
            BLOCK);

    BinarizeStep() {
        super("binarize", "binarization: signs + residual signs on Hessian-salient columns, GPTQ feedback (format trit-planes, ~1.1-1.2 bits)",
                PARAMS);
    }

    @Override
    void check(String source, String where, ObjectNode p) {
        double f = p.get("salient_fraction").doubleValue();
        if (!(f >= 0 && f <= 1)) throw new BadInputException(source, where + ": salient_fraction must be in [0, 1], got " + f);
    }

    @Override
    Configured quantizer(Step step, int groupSize) {
        return new Quantizer(step, BinaryGrid.scheme(groupSize));
    }

    record Quantizer(Step step, QuantScheme scheme) implements TritStep.Quantizer {
        @Override
        public String name() {
            return "binarize";
        }

        @Override
        public boolean needsCalibration() {
            return flag("error_feedback") || number("salient_fraction") > 0;
        }

        @Override
        public QuantizedTensor quantize(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian) {
            int count = (int) Math.round(number("salient_fraction") * cols);
            boolean[] salient = count == 0 ? new boolean[cols]
                    : BinaryGrid.salientColumns(weight, rows, cols, TritSteps.hinvCholeskyDiagonal(module, hessian, cols, dampPercent()), count);
            if (!flag("error_feedback")) {
                double[] importance = hessian == null ? null : TritSteps.dampedDiagonal(hessian, cols, dampPercent());
                return BinaryGrid.quantizeDirect(module, weight, rows, cols, s, salient, importance);
            }
            BinaryGrid grid = new BinaryGrid(module, s, rows, cols, salient);
            Gptq.sweep(module, weight, rows, cols, hessian, sweepOptions(), grid, Linalg.kernels());
            return grid.result();
        }
    }
}
