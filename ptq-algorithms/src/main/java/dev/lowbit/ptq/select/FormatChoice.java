package dev.lowbit.ptq.select;

import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.ptq.grid.FpGrid;
import dev.lowbit.ptq.rtn.Rtn;
import java.util.ArrayList;
import java.util.List;

/**
 * INT vs FP per Linear: quantize one Linear's weight
 * with each candidate format (round to nearest on that format's grid), measure the layer-output error each leaves
 * under the calibration Hessian, and pick per Linear the format with the lowest error among those that fit a
 * bits-per-weight budget.
 *
 * <p>The error is E = Σ_r (w_r − ŵ_r)ᵀ H (w_r − ŵ_r) with H = Σ x·xᵀ over the calibration inputs of the Linear: the
 * squared error of the Linear's outputs on that data (what GPTQ minimises), comparable across formats of one Linear.
 */
public final class FormatChoice {
    private FormatChoice() {}

    /**
     * A candidate format: an integer grid (GPTQ's min/max RTN) or a float scheme on {@link FpGrid} (RTN).
     *
     * @param name        as reports print it
     * @param scheme      the grid
     * @param fourOverSix NVFP4's 4/6 rule (weighted uses diag(H)), or null
     */
    public record Candidate(String name, QuantScheme scheme, FpGrid.FourOverSix fourOverSix) {
        /** Storage bits per weight: codes + scales (+ zero points) per group; NVFP4's per-tensor f32 is not counted. */
        public double bitsPerWeight() {
            return scheme.bitsPerWeight();
        }

        QuantizedTensor quantize(String name, float[] w, int rows, int cols, double[] h) {
            if (!FloatSchemes.isFloat(scheme)) return Rtn.rtn(name, w, rows, cols, scheme);
            double[] diag = new double[cols];
            for (int c = 0; c < cols; c++) diag[c] = h[c * cols + c];
            return FpGrid.rtn(name, w, rows, cols, scheme, FpGrid.MxExponent.OCP, fourOverSix, diag);
        }
    }

    /** The candidates the study compares: INT4 at g128 and g32 against MXFP4 and NVFP4 (with and without 4/6). */
    public static List<Candidate> defaults() {
        return List.of(
                new Candidate("INT4 g128 asym", new QuantScheme(4, 128, false), null),
                new Candidate("MXFP4", FloatSchemes.MXFP4, null),
                new Candidate("INT4 g32 sym", new QuantScheme(4, 32, true), null),
                new Candidate("NVFP4", FloatSchemes.NVFP4, FpGrid.FourOverSix.OFF),
                new Candidate("NVFP4 4/6", FloatSchemes.NVFP4, FpGrid.FourOverSix.WEIGHTED),
                new Candidate("INT4 g32 asym", new QuantScheme(4, 32, false), null));
    }

    /** One Linear's errors by candidate (same order) and the chosen candidate's index (−1: none fits the budget). */
    public record Result(String module, double[] errors, int chosen) {}

    /**
     * Errors of every candidate on {@code w} (rows × cols) under {@code h} (cols × cols), and the lowest-error
     * candidate with at most {@code budgetBits} bits per weight.
     */
    public static Result choose(String module, float[] w, int rows, int cols, double[] h, List<Candidate> candidates, double budgetBits) {
        double[] errors = new double[candidates.size()];
        int best = -1;
        for (int i = 0; i < candidates.size(); i++) {
            Candidate c = candidates.get(i);
            errors[i] = outputError(w, c.quantize(module, w, rows, cols, h).dequantize(), h, rows, cols);
            if (c.bitsPerWeight() <= budgetBits + 1e-9 && (best < 0 || errors[i] < errors[best])) best = i;
        }
        return new Result(module, errors, best);
    }

    /** Σ_r (w_r − q_r)ᵀ H (w_r − q_r), with D·H as one GEMM (f32) and the row dot products in f64. */
    public static double outputError(float[] w, float[] q, double[] h, int rows, int cols) {
        float[] d = new float[rows * cols];
        for (int i = 0; i < d.length; i++) d[i] = w[i] - q[i];
        float[] hf = new float[cols * cols];
        for (int i = 0; i < hf.length; i++) hf[i] = (float) h[i];
        float[] dh = new float[rows * cols];
        Linalg.kernels().gemm(rows, cols, cols, 1f, d, 0, cols, hf, 0, cols, dh, 0, cols);
        double e = 0;
        for (int i = 0; i < d.length; i++) e += (double) d[i] * dh[i];
        return e;
    }

    /** Names of the candidates chosen, by candidate, over a list of results. */
    public static List<String> summary(List<Result> results, List<Candidate> candidates) {
        int[] count = new int[candidates.size()];
        for (Result r : results) if (r.chosen() >= 0) count[r.chosen()]++;
        List<String> out = new ArrayList<>();
        for (int i = 0; i < count.length; i++) out.add(candidates.get(i).name() + ": " + count[i]);
        return out;
    }
}
