package dev.lowbit.kernels.kquant;

/**
 * ggml's {@code make_qkx2_quants} (the sub-block search of Q2_K, Q4_K and Q5_K without importance), on several
 * sub-blocks at once: x ≈ scale·l + min with l ∈ [0, nmax] and min ≤ 0. From the range [min(x, 0), max x], the codes
 * of iscale = nmax / (max − min) are the starting point; then for each step {@code is = 0 … nstep}, iscale = (rmin +
 * rdelta·is + nmax) / (max − min), codes l_i = clamp(rint(iscale·(x_i − min)), 0, nmax), the weighted least-squares
 * (scale, min) of those codes (min clipped at 0) and their weighted error (squared, or absolute with {@code useMad});
 * a step whose error is strictly lower replaces the best, and its min becomes the {@code min} of every later step
 * (ggml's loop updates it in place).
 *
 * <p>Every implementation gives the scalar reference's codes, scales and mins bit for bit. An instance keeps scratch
 * buffers: use one per thread ({@link KQuantKernels}' factories).
 */
public interface Qkx2Quants {
    /**
     * Quantizes {@code count} sub-blocks of {@code n} elements: sub-block j is {@code x[xo + j·n …)} with weights
     * {@code w[j·n …)}; its codes go to {@code L[lo + j·n …)}, its scale to {@code scales[so + j]} and −min (≥ 0) to
     * {@code mins[so + j]}.
     */
    void quantize(int count, int n, int nmax, float[] x, int xo, float[] w, int[] L, int lo, float[] scales, float[] mins,
                  int so, float rmin, float rdelta, int nstep, boolean useMad);

    /** "scalar" or "vector(N lanes)". */
    String name();
}
