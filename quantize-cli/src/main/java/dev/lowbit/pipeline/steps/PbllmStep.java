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
import dev.lowbit.ptq.ternary.PbllmGrid;
import java.util.List;

/**
 * {@code pb-llm}: PB-LLM ({@link PbllmGrid}): the Hessian-salient fraction of the weights kept at 8 bits (unstructured,
 * with a per-weight mask), the rest binarized, GPTQ error feedback. Needs calibration. Output: format
 * {@code trit-planes} version 3 (one 1-bit plane + {@code trit_salient_*}); the bits per weight count the mask.
 */
final class PbllmStep implements StepType {
    static final List<Param> PARAMS = List.of(
            Param.ofInt("group_size", 512, "input channels per binary scale (must divide every row)"),
            Param.ofNumber("salient_fraction", 0.1, "fraction of each matrix's weights (largest w²/[U]²_cc) kept at 8 bits"),
            Param.ofNumber("damp_percent", 0.01, "dampening, fraction of mean diag(H), in (0, 1)"),
            Param.ofInt("block_size", 128, "lazy-batch block width of the GPTQ sweep"));

    @Override
    public String name() {
        return "pb-llm";
    }

    @Override
    public Role role() {
        return Role.QUANTIZER;
    }

    @Override
    public String description() {
        return "PB-LLM: Hessian-salient weights at 8 bits (masked), the rest binarized, GPTQ feedback (format trit-planes)";
    }

    @Override
    public List<Param> params() {
        return PARAMS;
    }

    @Override
    public Configured configure(String source, Step step, Output output) {
        String where = "step 'pb-llm'";
        TritSteps.requireTritPlanes(source, where, output);
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), PARAMS, PARAMS, "");
        int g = p.get("group_size").intValue();
        if (g < 1) throw new BadInputException(source, where + ": group_size must be positive, got " + g);
        double f = p.get("salient_fraction").doubleValue();
        if (!(f >= 0 && f < 1)) throw new BadInputException(source, where + ": salient_fraction must be in [0, 1), got " + f);
        double damp = p.get("damp_percent").doubleValue();
        if (!(damp > 0 && damp < 1)) throw new BadInputException(source, where + ": damp_percent must be in (0, 1), got " + damp);
        if (p.get("block_size").intValue() < 1) throw new BadInputException(source, where + ": block_size must be ≥ 1");
        return new Quantizer(step.withParams(p), PbllmGrid.scheme(g));
    }

    record Quantizer(Step step, QuantScheme scheme) implements QuantizerStep {
        @Override
        public String name() {
            return "pb-llm";
        }

        @Override
        public boolean needsCalibration() {
            return true;
        }

        @Override
        public boolean trueSequential() {
            return true;
        }

        @Override
        public double dampPercent() {
            return step.params().get("damp_percent").doubleValue();
        }

        @Override
        public QuantizedTensor quantize(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian) {
            int count = (int) Math.round(step.params().get("salient_fraction").doubleValue() * rows * cols);
            byte[] mask = PbllmGrid.salientMask(weight, rows, cols, TritSteps.hinvCholeskyDiagonal(module, hessian, cols, dampPercent()), count);
            PbllmGrid grid = new PbllmGrid(module, s, weight, rows, cols, mask);
            Gptq.sweep(module, weight, rows, cols, hessian,
                    new GptqConfig.Options(dampPercent(), step.params().get("block_size").intValue(), false), grid, Linalg.kernels());
            return grid.result();
        }
    }
}
