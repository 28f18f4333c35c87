package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.trit.TritPacking;
import dev.lowbit.io.trit.TritPlaneTensors;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.ternary.Ptqtp;
import dev.lowbit.ptq.ternary.TritPlaneFit;
import dev.lowbit.ptq.ternary.TritPlaneGrid;
import java.util.List;

/**
 * {@code ptqtp}: two ternary trit-planes per row and group, W ≈ α₁·T₁ + α₂·T₂ ({@link Ptqtp}); data-free by default,
 * {@code hessian_weighted}: the fit weighted by the calibration Hessian's diagonal, {@code error_feedback}: GPTQ's sweep
 * with each group fitted on the error-compensated weights ({@link TritPlaneGrid}). Output: format {@code trit-planes}.
 */
final class PtqtpStep extends TritStep {
    static final List<Param> PARAMS = List.of(
            groupSize(Ptqtp.DEFAULT_GROUP, "input channels per pair of scales (must divide every row)"),
            Param.ofInt("iterations", Ptqtp.DEFAULT_ITERATIONS, "at most this many alternations of trits and scales"),
            Param.ofString("start", "multi", "where the alternation starts: multi (the progressive start and 20 scale pairs on a grid of max|w|, the best continued; whole-file perplexity 11.8862 vs 12.0229 data-free) or progressive (best plane, then best plane of the residual; ~6× faster)"),
            Param.ofBool("hessian_weighted", false, "weight the fit by diag(H) of the calibration inputs (needs calibration; error_feedback does so already)"),
            Param.ofBool("error_feedback", false, "GPTQ-style sweep pushing each column's error onto later ones (needs calibration)"),
            DAMP,
            BLOCK,
            Param.ofBool("refit_scales", false, "error_feedback: after the sweep, refit each row's scales to the output error tr(ΔW H ΔWᵀ)"),
            Param.ofInt("refit_rounds", 1, "refit_scales: rounds of sweep → refit; each further round re-sweeps the trits with the refitted scales held, the round of least output error kept"),
            Param.ofInt("descent_passes", 0, "refit_scales: after each refit, at most this many passes of coordinate descent over the trits on the output error tr(ΔW H ΔWᵀ) with the scales held, then the scales refitted again (0: none)"),
            Param.ofInt("descent_cycles", 1, "descent_passes: cycles of descent → refit, stopping early once a cycle lowers the output error by less than 1e-4 relative"),
            Param.ofBool("act_order", false, "error_feedback: sweep groups by decreasing Σ diag(H), columns within a group by decreasing diag(H) (groups stay whole)"));

    PtqtpStep() {
        super("ptqtp", "PTQTP: two ternary trit-planes + f16 scales per group (format trit-planes)", PARAMS);
    }

    @Override
    void check(String source, String where, ObjectNode p) {
        int it = p.get("iterations").intValue();
        if (it < 0 || it > 10_000) throw new BadInputException(source, where + ": iterations must be 0..10000, got " + it);
        String start = p.get("start").asText();
        if (!start.equals("progressive") && !start.equals("multi")) {
            throw new BadInputException(source, where + ": start must be progressive or multi, got '" + start + "'");
        }
        if (p.get("refit_scales").booleanValue() && !p.get("error_feedback").booleanValue()) {
            throw new BadInputException(source, where + ": refit_scales applies to error_feedback: true only");
        }
        int rounds = p.get("refit_rounds").intValue();
        if (rounds < 1 || rounds > 100) throw new BadInputException(source, where + ": refit_rounds must be 1..100, got " + rounds);
        if (rounds > 1 && !p.get("refit_scales").booleanValue()) {
            throw new BadInputException(source, where + ": refit_rounds applies to refit_scales: true only");
        }
        int passes = p.get("descent_passes").intValue();
        if (passes < 0 || passes > 1000) throw new BadInputException(source, where + ": descent_passes must be 0..1000, got " + passes);
        if (passes > 0 && !p.get("refit_scales").booleanValue()) {
            throw new BadInputException(source, where + ": descent_passes applies to refit_scales: true only");
        }
        int cycles = p.get("descent_cycles").intValue();
        if (cycles < 1 || cycles > 100) throw new BadInputException(source, where + ": descent_cycles must be 1..100, got " + cycles);
        if (cycles > 1 && passes == 0) throw new BadInputException(source, where + ": descent_cycles applies to descent_passes > 0 only");
        if (p.get("act_order").booleanValue() && !p.get("error_feedback").booleanValue()) {
            throw new BadInputException(source, where + ": act_order applies to error_feedback: true only");
        }
        if (p.get("hessian_weighted").booleanValue() && p.get("error_feedback").booleanValue()) {
            throw new BadInputException(source, where + ": hessian_weighted applies without error_feedback only"
                    + " (error_feedback already weights each group's fit by diag(H))");
        }
    }

    @Override
    Configured quantizer(Step step, int groupSize) {
        return new Quantizer(step, TritPlaneTensors.scheme(2, groupSize, TritPacking.BASE3));
    }

    record Quantizer(Step step, QuantScheme scheme) implements TritStep.Quantizer {
        @Override
        public String name() {
            return "ptqtp";
        }

        @Override
        public boolean needsCalibration() {
            return flag("hessian_weighted") || flag("error_feedback");
        }

        @Override
        public QuantizedTensor quantize(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian) {
            int iterations = step.params().get("iterations").intValue();
            TritPlaneFit.Start start = step.params().get("start").asText().equals("multi")
                    ? TritPlaneFit.Start.MULTI : TritPlaneFit.Start.PROGRESSIVE;
            if (flag("error_feedback")) {
                // act_order: the sweep runs on W[:, perm], H[perm][:, perm] (perm keeps groups whole), codes put back after
                int[] perm = flag("act_order") ? TritPlaneGrid.groupActOrder(hessian, cols, s.effectiveGroupSize(cols)) : null;
                float[] w = perm == null ? weight : TritPlaneGrid.permuteColumns(weight, rows, cols, perm);
                double[] h = perm == null ? hessian : TritPlaneGrid.permuteSymmetric(hessian, cols, perm);
                TritPlaneGrid grid = new TritPlaneGrid(module, s, rows, cols, iterations, start);
                Gptq.sweep(module, w, rows, cols, h, sweepOptions(), grid, Linalg.kernels());
                if (flag("refit_scales")) {
                    double[] damped = TritSteps.damped(h, cols, dampPercent());
                    int passes = step.params().get("descent_passes").intValue();
                    int cycles = step.params().get("descent_cycles").intValue();
                    refit(grid, w, damped, passes, cycles);
                    int rounds = step.params().get("refit_rounds").intValue();
                    if (rounds > 1) {
                        double best = grid.outputLoss(w, damped);
                        TritPlaneGrid.State kept = grid.snapshot();
                        grid.holdScales();
                        for (int round = 1; round < rounds; round++) {
                            Gptq.sweep(module, w, rows, cols, h, sweepOptions(), grid, Linalg.kernels());
                            refit(grid, w, damped, passes, cycles);
                            double loss = grid.outputLoss(w, damped);
                            if (loss < best) {
                                best = loss;
                                kept = grid.snapshot();
                            }
                        }
                        grid.restore(kept);
                    }
                }
                return grid.result(perm);
            }
            double[] importance = flag("hessian_weighted") ? TritSteps.dampedDiagonal(hessian, cols, dampPercent()) : null;
            return Ptqtp.quantize(module, weight, rows, cols, s, iterations, start, importance).tensor();
        }

        /**
         * Scales refitted to the output error; with descent passes, up to {@code cycles} times: the trits descended on it,
         * then the scales refitted again (a cycle that lowers the output error by less than 1e-4 relative is the last).
         */
        private static void refit(TritPlaneGrid grid, float[] w, double[] damped, int passes, int cycles) {
            grid.refitScales(w, damped);
            if (passes == 0) return;
            double loss = cycles > 1 ? grid.outputLoss(w, damped) : 0;
            for (int cycle = 0; cycle < cycles; cycle++) {
                grid.descend(w, damped, passes);
                grid.refitScales(w, damped);
                if (cycle + 1 == cycles) break;
                double now = grid.outputLoss(w, damped);
                if (now > loss * (1 - 1e-4)) break;
                loss = now;
            }
        }
    }
}
