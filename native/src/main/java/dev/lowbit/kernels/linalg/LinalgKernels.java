package dev.lowbit.kernels.linalg;

/**
 * Dense linear-algebra kernels for post-training quantization: f32 GEMM and SYRK (Hessian accumulation), f64
 * Cholesky, triangular inverse and triangular solve. Every matrix is row-major; an operand is addressed by an array,
 * an offset and a leading dimension (elements between consecutive rows), so sub-blocks need no copy.
 *
 * <p>Two implementations: {@link ScalarLinalg}, the plain-loop reference, and {@link PanamaLinalg} on the Vector
 * API. {@link Linalg#kernels()} picks one once at start-up. Both are deterministic: a result depends only on the
 * inputs, never on thread scheduling (fixed partitioning, fixed reduction order).
 */
public interface LinalgKernels {

    /** C[m×n] += alpha · A[m×k] · B[k×n]. */
    void gemm(int m, int n, int k, float alpha,
              float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc);

    /** C[m×n] += alpha · A[m×k] · B[n×k]ᵀ. */
    void gemmTransB(int m, int n, int k, float alpha,
                    float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc);

    /**
     * H[n×n] += Xᵀ·X for X of {@code rows × n} (each row one sample x, so H += Σ x·xᵀ), accumulated in f32.
     * H is written in full (both triangles, exactly symmetric).
     */
    void syrk(int rows, int n, float[] x, int xOff, int ldx, float[] h);

    /**
     * H64[n×n] += Xᵀ·X: the batch product is accumulated in f32 by {@link #syrk} and then added into the f64
     * accumulator, the cross-batch reduction the Hessian observer needs.
     */
    default void syrkAccumulate(int rows, int n, float[] x, int xOff, int ldx, double[] h) {
        float[] batch = new float[n * n];
        syrk(rows, n, x, xOff, ldx, batch);
        for (int i = 0; i < batch.length; i++) h[i] += batch[i];
    }

    /**
     * In-place Cholesky factorization A = L·Lᵀ of a symmetric positive definite n×n matrix (only the lower triangle
     * is read). On return the lower triangle holds L and the strict upper triangle is zero.
     *
     * @throws ArithmeticException if a pivot is not positive (A not numerically positive definite)
     */
    void cholesky(int n, double[] a);

    /** In-place inverse of a lower-triangular n×n matrix L (strict upper triangle must be zero, stays zero). */
    void invertLower(int n, double[] l);

    /**
     * {@link #cholesky} of a matrix given by its lower triangle alone, packed row by row (row i's entries [0, i] start
     * at i(i+1)/2: n(n+1)/2 values, half the full array): the same operations in the same order, so L is bit for bit
     * the full factorization's lower triangle.
     */
    void choleskyPacked(int n, double[] a);

    /** {@link #invertLower} of a packed lower triangle (see {@link #choleskyPacked}), bit for bit the same. */
    void invertLowerPacked(int n, double[] l);

    /** Solves L·X = B in place for lower-triangular L (n×n) and B (n×nrhs, overwritten by X). */
    void solveLower(int n, int nrhs, double[] l, double[] b);

    /** out[n×n] = Lᵀ·L for lower-triangular L: with L = C⁻¹ for C the Cholesky factor of A, this is A⁻¹. */
    void lowerGram(int n, double[] l, double[] out);
}
