package dev.lowbit.ptq.ternary;

import dev.lowbit.ptq.TestWeights;

/**
 * What the trit-plane and binarization tests share: the first 32 rows of tiny-llama-code's layer-0 q_proj (512 input
 * channels), 512 correlated calibration tokens with their Hessian Σ xxᵀ, and the Linear's output error.
 */
final class TernaryFixture {
    static final int ROWS = 32, COLS = 512, TOKENS = 512;

    private TernaryFixture() {}

    /** The first {@link #ROWS} rows of layer 0's q_proj, row-major. */
    static float[] qProj() {
        return java.util.Arrays.copyOf(TestWeights.real(TestWeights.Q_PROJ), ROWS * COLS);
    }

    /** {@link #TOKENS} calibration inputs of {@link #COLS} channels with a spread of channel scales (seed 3). */
    static float[] inputs() {
        return TestWeights.correlatedInputs(3, TOKENS, COLS, 10);
    }

    /** H = Σₜ xₜ xₜᵀ (COLS × COLS, row-major, f64). */
    static double[] hessian(float[] x) {
        double[] h = new double[COLS * COLS];
        for (int t = 0; t < x.length / COLS; t++) {
            for (int i = 0; i < COLS; i++) {
                double xi = x[t * COLS + i];
                for (int j = 0; j < COLS; j++) h[i * COLS + j] += xi * x[t * COLS + j];
            }
        }
        return h;
    }

    /** ‖(W − Ŵ)·Xᵀ‖² over the calibration tokens: what the output of the Linear loses. */
    static double outputError(float[] w, float[] deq, float[] x) {
        double l = 0;
        int tokens = x.length / COLS;
        for (int r = 0; r < ROWS; r++) {
            for (int t = 0; t < tokens; t++) {
                double y = 0;
                for (int c = 0; c < COLS; c++) y += (w[r * COLS + c] - deq[r * COLS + c]) * (double) x[t * COLS + c];
                l += y * y;
            }
        }
        return l;
    }

    /** ‖W − Ŵ‖²_F. */
    static double weightError(float[] w, float[] deq) {
        double e = 0;
        for (int i = 0; i < w.length; i++) e += (w[i] - deq[i]) * (double) (w[i] - deq[i]);
        return e;
    }
}
