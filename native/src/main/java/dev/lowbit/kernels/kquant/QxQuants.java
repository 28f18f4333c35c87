package dev.lowbit.kernels.kquant;

/**
 * ggml's {@code make_qx_quants} (Q6_K's sub-block search; also Q3_K's and the weighted Q4_0 / Q5_0), on several
 * sub-blocks at once: symmetric levels l ∈ [−nmax, nmax−1] stored as l + nmax. From iscale = −nmax / max (max = the
 * value of largest magnitude, sign kept) the weighted least-squares scale Σwxl / Σwl²; then iscale = −(nmax + 0.1·is) /
 * max for is = −9 … 9 (not 0), keeping the step with the largest (Σwxl)² / Σwl². Weights: {@code qw} if given, else by
 * {@code rmseType} (1: x², 2: 1, 3: |x|, other: √|x|); {@code rmseType} 0 returns the plain 1 / iscale and a negative
 * one the average of the first fit and 1 / iscale without the search. A sub-block whose largest magnitude is below
 * 1e-15 ({@code GROUP_MAX_EPS}) is all zero with scale 0.
 *
 * <p>Every implementation gives the scalar reference's codes and scales bit for bit. An instance keeps scratch buffers:
 * use one per thread ({@link KQuantKernels}' factories).
 */
public interface QxQuants {
    /** ggml's GROUP_MAX_EPS. */
    float GROUP_MAX_EPS = 1e-15f;

    /**
     * Quantizes {@code count} sub-blocks of {@code n}: sub-block j is {@code x[xo + j·n …)} with weights
     * {@code qw[qwo + j·n …)} when {@code qw} is not null; codes to {@code L[lo + j·n …)}, scale to {@code scales[so + j]}.
     */
    void quantize(int count, int n, int nmax, float[] x, int xo, int[] L, int lo, float[] scales, int so, int rmseType,
                  float[] qw, int qwo);

    /** The scalar reference on one sub-block; returns its scale. */
    static float reference(int n, int nmax, float[] x, int xo, int[] L, int lo, int rmseType, float[] qw, int qwo) {
        return ScalarQxQuants.one(n, nmax, x, xo, L, lo, rmseType, qw, qwo);
    }

    /** "scalar" or "vector(N lanes)". */
    String name();
}
