package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.trit.TritPacking;
import dev.lowbit.io.trit.TritPlaneTensors;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.ternary.Ptqtp;
import dev.lowbit.ptq.ternary.TritPlaneGrid;
import java.util.List;

/**
 * {@code ptqtp}: two ternary trit-planes per row and group, W ≈ α₁·T₁ + α₂·T₂ ({@link Ptqtp}); data-free by default,
 * {@code hessian_weighted}: the fit weighted by the calibration Hessian's diagonal, {@code error_feedback}: GPTQ's sweep
 * with each group fitted on the error-compensated weights ({@link TritPlaneGrid}). Output: format {@code trit-planes}.
 */
final class PtqtpStep implements StepType {
    static final List<Param> PARAMS = List.of(
            Param.ofInt("group_size", Ptqtp.DEFAULT_GROUP, "input channels per pair of scales (must divide every row)"),
            Param.ofInt("iterations", Ptqtp.DEFAULT_ITERATIONS, "at most this many alternations of trits and scales"),
            Param.ofBool("hessian_weighted", false, "weight the fit by diag(H) of the calibration inputs (needs calibration)"),
            Param.ofBool("error_feedback", false, "GPTQ-style sweep pushing each column's error onto later ones (needs calibration)"),
            Param.ofNumber("damp_percent", 0.01, "with calibration: dampening, fraction of mean diag(H), in (0, 1)"),
            Param.ofInt("block_size", 128, "error_feedback: lazy-batch block width"),
            Param.ofBool("refit_scales", false, "error_feedback: after the sweep, refit each row's scales to the output error tr(ΔW H ΔWᵀ)"));

    @Override
    public String name() {
        return "ptqtp";
    }

    @Override
    public Role role() {
        return Role.QUANTIZER;
    }

    @Override
    public String description() {
        return "PTQTP: two ternary trit-planes + f16 scales per group (format trit-planes)";
    }

    @Override
    public List<Param> params() {
        return PARAMS;
    }

    @Override
    public Configured configure(String source, Step step, Output output) {
        String where = "step 'ptqtp'";
        TritSteps.requireTritPlanes(source, where, output);
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), PARAMS, PARAMS, "");
        int g = p.get("group_size").intValue(), it = p.get("iterations").intValue();
        if (g < 1) throw new BadInputException(source, where + ": group_size must be positive, got " + g);
        if (it < 0 || it > 10_000) throw new BadInputException(source, where + ": iterations must be 0..10000, got " + it);
        double damp = p.get("damp_percent").doubleValue();
        if (!(damp > 0 && damp < 1)) throw new BadInputException(source, where + ": damp_percent must be in (0, 1), got " + damp);
        if (p.get("block_size").intValue() < 1) throw new BadInputException(source, where + ": block_size must be ≥ 1");
        if (p.get("refit_scales").booleanValue() && !p.get("error_feedback").booleanValue()) {
            throw new BadInputException(source, where + ": refit_scales applies to error_feedback: true only");
        }
        return new Quantizer(step.withParams(p), TritPlaneTensors.scheme(2, g, TritPacking.BASE3));
    }

    record Quantizer(Step step, QuantScheme scheme) implements QuantizerStep {
        @Override
        public String name() {
            return "ptqtp";
        }

        private boolean weighted() {
            return step.params().get("hessian_weighted").booleanValue();
        }

        private boolean feedback() {
            return step.params().get("error_feedback").booleanValue();
        }

        @Override
        public boolean needsCalibration() {
            return weighted() || feedback();
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
            int iterations = step.params().get("iterations").intValue();
            if (feedback()) {
                TritPlaneGrid grid = new TritPlaneGrid(module, s, rows, cols, iterations);
                Gptq.sweep(module, weight, rows, cols, hessian,
                        new GptqConfig.Options(dampPercent(), step.params().get("block_size").intValue(), false), grid, Linalg.kernels());
                if (step.params().get("refit_scales").booleanValue()) grid.refitScales(weight, TritSteps.damped(hessian, cols, dampPercent()));
                return grid.result();
            }
            double[] importance = weighted() ? TritSteps.dampedDiagonal(hessian, cols, dampPercent()) : null;
            return Ptqtp.quantize(module, weight, rows, cols, s, iterations, importance).tensor();
        }
    }
}
