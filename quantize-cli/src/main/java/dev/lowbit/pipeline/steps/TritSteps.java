package dev.lowbit.pipeline.steps;

import dev.lowbit.io.BadInputException;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.pipeline.recipe.Output;

/** What the ternary steps share. */
final class TritSteps {
    private TritSteps() {}

    /**
     * Trit-planes are stored by format {@code trit-planes} only. GGUF is refused here (its pipeline takes its grid from
     * the GGUF type); a safetensors target refuses each ternary tensor by name when it validates the plan.
     */
    static void requireTritPlanes(String source, String where, Output output) {
        if (output.isGguf()) {
            throw new BadInputException(source, where + ": format " + output.format() + " cannot hold ternary trit-planes (use format "
                    + Output.TRIT_PLANES + ")");
        }
    }

    /** H with damp · mean diag(H) added to its diagonal (a dead column's diagonal set to 1 first, as GPTQ does). */
    static double[] damped(double[] h, int cols, double damp) {
        double[] d = h.clone();
        double mean = 0;
        for (int c = 0; c < cols; c++) {
            if (d[c * cols + c] == 0) d[c * cols + c] = 1;
            mean += d[c * cols + c];
        }
        mean /= cols;
        for (int c = 0; c < cols; c++) d[c * cols + c] += damp * mean;
        return d;
    }

    /** diag(H) + damp · mean diag(H): per-column importances (a dead column keeps the damping, so none is 0). */
    static double[] dampedDiagonal(double[] h, int cols, double damp) {
        double[] d = new double[cols];
        double mean = 0;
        for (int c = 0; c < cols; c++) mean += h[c * cols + c];
        mean /= cols;
        for (int c = 0; c < cols; c++) d[c] = h[c * cols + c] + damp * mean;
        if (mean == 0) java.util.Arrays.fill(d, 1.0);
        return d;
    }

    /** d_c = U_cc, U the upper Cholesky factor of (H + damp·mean diag H)⁻¹ (dead columns' diagonal set to 1 first, as GPTQ). */
    static double[] hinvCholeskyDiagonal(String module, double[] hessian, int cols, double dampPercent) {
        double[] h = hessian.clone();
        double mean = 0;
        for (int i = 0; i < cols; i++) {
            if (h[i * cols + i] == 0) h[i * cols + i] = 1;
            mean += h[i * cols + i];
        }
        double damp = dampPercent * mean / cols;
        for (int i = 0; i < cols; i++) h[i * cols + i] += damp;
        double[] u;
        try {
            u = Linalg.upperCholeskyOfInverse(Linalg.kernels(), cols, h);
        } catch (ArithmeticException e) {
            throw new BadInputException(module, "the calibration Hessian is not positive definite after dampening " + dampPercent);
        }
        double[] d = new double[cols];
        for (int i = 0; i < cols; i++) d[i] = u[i * cols + i];
        return d;
    }
}
