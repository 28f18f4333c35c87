package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.ternary.BinaryGrid;
import java.util.List;

/**
 * {@code binarize}: sign plane + residual sign plane on the Hessian-salient columns ({@link BinaryGrid}, BiLLM's
 * structure without its uncounted split bit), GPTQ error feedback across columns. With {@code salient_fraction: 0} and
 * {@code error_feedback: false} it is binary RTN (sign·mean|w| per row-group), data-free. Output: format
 * {@code trit-planes} (1-bit packing, the residual plane stores its salient columns only).
 */
final class BinarizeStep implements StepType {
    static final List<Param> PARAMS = List.of(
            Param.ofInt("group_size", 512, "input channels per pair of scales (must divide every row)"),
            Param.ofNumber("salient_fraction", 0.1, "fraction of each matrix's columns (largest Σ w²/[U]²_cc) that get a residual sign"),
            Param.ofBool("error_feedback", true, "GPTQ sweep pushing each column's error onto later ones (needs calibration)"),
            Param.ofNumber("damp_percent", 0.01, "with calibration: dampening, fraction of mean diag(H), in (0, 1)"),
            Param.ofInt("block_size", 128, "error_feedback: lazy-batch block width"));

    @Override
    public String name() {
        return "binarize";
    }

    @Override
    public Role role() {
        return Role.QUANTIZER;
    }

    @Override
    public String description() {
        return "binarization: signs + residual signs on Hessian-salient columns, GPTQ feedback (format trit-planes, ~1.1-1.2 bits)";
    }

    @Override
    public List<Param> params() {
        return PARAMS;
    }

    @Override
    public Configured configure(String source, Step step, Output output) {
        String where = "step 'binarize'";
        TritSteps.requireTritPlanes(source, where, output);
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), PARAMS, PARAMS, "");
        int g = p.get("group_size").intValue();
        if (g < 1) throw new BadInputException(source, where + ": group_size must be positive, got " + g);
        double f = p.get("salient_fraction").doubleValue();
        if (!(f >= 0 && f <= 1)) throw new BadInputException(source, where + ": salient_fraction must be in [0, 1], got " + f);
        double damp = p.get("damp_percent").doubleValue();
        if (!(damp > 0 && damp < 1)) throw new BadInputException(source, where + ": damp_percent must be in (0, 1), got " + damp);
        if (p.get("block_size").intValue() < 1) throw new BadInputException(source, where + ": block_size must be ≥ 1");
        return new Quantizer(step.withParams(p), BinaryGrid.scheme(g));
    }

    record Quantizer(Step step, QuantScheme scheme) implements QuantizerStep {
        @Override
        public String name() {
            return "binarize";
        }

        private boolean feedback() {
            return step.params().get("error_feedback").booleanValue();
        }

        private double fraction() {
            return step.params().get("salient_fraction").doubleValue();
        }

        @Override
        public boolean needsCalibration() {
            return feedback() || fraction() > 0;
        }

        @Override
        public boolean trueSequential() {
            return needsCalibration();
        }

        @Override
        public double dampPercent() {
            return step.params().get("damp_percent").doubleValue();
        }

        @Override
        public QuantizedTensor quantize(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian) {
            int count = (int) Math.round(fraction() * cols);
            boolean[] salient = count == 0 ? new boolean[cols]
                    : BinaryGrid.salientColumns(weight, rows, cols, TritSteps.hinvCholeskyDiagonal(module, hessian, cols, dampPercent()), count);
            if (!feedback()) {
                double[] importance = hessian == null ? null : TritSteps.dampedDiagonal(hessian, cols, dampPercent());
                return BinaryGrid.quantizeDirect(module, weight, rows, cols, s, salient, importance);
            }
            BinaryGrid grid = new BinaryGrid(module, s, rows, cols, salient);
            Gptq.sweep(module, weight, rows, cols, hessian,
                    new GptqConfig.Options(dampPercent(), step.params().get("block_size").intValue(), false), grid, Linalg.kernels());
            return grid.result();
        }
    }
}
