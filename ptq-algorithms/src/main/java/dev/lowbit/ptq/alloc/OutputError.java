package dev.lowbit.ptq.alloc;

import dev.lowbit.kernels.linalg.LinalgKernels;

/**
 * The second-order sensitivity proxy of one quantized Linear: the output error its inputs would see,
 * <pre>
 *   E = tr(ΔW · H · ΔWᵀ) / n = (1/n) Σ_tokens ‖ΔW · x‖²,   ΔW = Ŵ − W,  H = Σ_tokens x·xᵀ
 * </pre>
 * with W of {@code rows × cols} (rows = out_features, row-major) and H the {@code cols × cols} Hessian of the inputs
 * (as the calibration observer accumulates it over n tokens). ΔW·H is one GEMM (f32, the {@code native} kernel);
 * the row-wise dot products with ΔW are summed in f64.
 */
public final class OutputError {
    private OutputError() {}

    /**
     * @param h     Σ x·xᵀ as f32 (convert once per Linear and reuse across candidates)
     * @param count n, the number of tokens in h
     */
    public static double of(float[] w, float[] quantized, int rows, int cols, float[] h, long count, LinalgKernels k) {
        if (w.length != (long) rows * cols || quantized.length != w.length || h.length != (long) cols * cols) {
            throw new IllegalArgumentException("shapes do not match a " + rows + " × " + cols + " weight");
        }
        float[] dw = new float[w.length];
        for (int i = 0; i < dw.length; i++) dw[i] = quantized[i] - w[i];
        float[] p = new float[w.length];
        k.gemm(rows, cols, cols, 1f, dw, 0, cols, h, 0, cols, p, 0, cols);
        double s = 0;
        for (int i = 0; i < dw.length; i++) s += (double) p[i] * dw[i];
        return s / Math.max(1, count);
    }
}
