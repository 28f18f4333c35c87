package dev.lowbit.kernels.linalg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Both implementations against independent f64 computations, and against each other, on awkward sizes.
 *
 * <p>Tolerances follow the standard error bounds: an f32 dot product of length k computed in any order has
 * |ŝ − s| ≤ γ_k·Σ|a_p·b_p| with γ_k ≈ k·u, u = 2⁻²⁴; we allow 2·k·u·Σ|ab| (two computations may err in opposite
 * directions) plus 1e-30 absolute for all-zero sums. Cholesky is backward stable: ‖A − L·Lᵀ‖_max ≤ c·n·u₆₄·‖A‖_max;
 * with our well-conditioned test matrices (A = B·Bᵀ/n + I, cond ≲ 10) 1e-12 relative leaves ~100× margin at n = 702.
 */
class LinalgKernelsTest {
    private static final LinalgKernels SCALAR = new ScalarLinalg();
    private static final LinalgKernels VECTOR = PanamaLinalg.createIfUseful() != null ? new PanamaLinalg() : SCALAR;
    private static final double U32 = 0x1p-24;

    private static float[] randomFloats(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    /** A = B·Bᵀ/n + I: symmetric positive definite, eigenvalues in [1, ~5]. */
    static double[] spd(Random rnd, int n) {
        double[] b = new double[n * n];
        for (int i = 0; i < b.length; i++) b[i] = rnd.nextGaussian();
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
                s /= n;
                if (i == j) s += 1;
                a[i * n + j] = s;
                a[j * n + i] = s;
            }
        }
        return a;
    }

    private static void checkProduct(int m, int n, int k, boolean transB, LinalgKernels impl, long seed) {
        Random rnd = new Random(seed);
        int lda = k + 3, ldb = (transB ? k : n) + 5, ldc = n + 2;
        int aOff = 4, bOff = 1, cOff = 7;
        float[] a = randomFloats(rnd, aOff + m * lda);
        float[] b = randomFloats(rnd, bOff + (transB ? n : k) * ldb);
        float[] c = randomFloats(rnd, cOff + m * ldc);
        float[] c0 = c.clone();
        float alpha = -0.75f;
        if (transB) impl.gemmTransB(m, n, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        else impl.gemm(m, n, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double exact = 0, mag = 0;
                for (int p = 0; p < k; p++) {
                    double bv = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    double t = (double) a[aOff + i * lda + p] * bv;
                    exact += t;
                    mag += Math.abs(t);
                }
                double want = c0[cOff + i * ldc + j] + alpha * exact;
                double tol = 2 * (k + 2) * U32 * (Math.abs(alpha) * mag + Math.abs(c0[cOff + i * ldc + j])) + 1e-30;
                double got = c[cOff + i * ldc + j];
                if (Math.abs(got - want) > tol) fail(impl.getClass().getSimpleName() + " " + m + "x" + n + "x" + k + " transB=" + transB + " at (" + i + "," + j + "): " + got + " vs " + want + " tol " + tol);
            }
        }
        // padding between rows is untouched
        for (int i = 0; i < m; i++) {
            for (int j = n; j < ldc && cOff + i * ldc + j < c.length; j++) assertEquals(c0[cOff + i * ldc + j], c[cOff + i * ldc + j]);
        }
    }

    @Test
    void gemmOnOddSizesMatchesF64Reference() {
        int[][] shapes = {{1, 1, 1}, {7, 7, 7}, {1, 207, 7}, {207, 1, 702}, {7, 702, 207}, {207, 207, 207}, {33, 702, 129}, {702, 37, 300}};
        long seed = 1;
        for (int[] s : shapes) {
            for (boolean t : new boolean[] {false, true}) {
                checkProduct(s[0], s[1], s[2], t, VECTOR, seed);
                checkProduct(s[0], s[1], s[2], t, SCALAR, seed++);
            }
        }
    }

    @Test
    void vectorGemmIsIndependentOfRowPartition() {
        // each element is one fma chain in a fixed order, so computing rows in two calls split at an odd row gives
        // bit-identical results to one call: what makes the threaded kernels deterministic
        Random rnd = new Random(5);
        int m = 207, n = 702, k = 300;
        float[] a = randomFloats(rnd, m * k), b = randomFloats(rnd, k * n);
        float[] whole = new float[m * n], split = new float[m * n];
        VECTOR.gemm(m, n, k, 1f, a, 0, k, b, 0, n, whole, 0, n);
        VECTOR.gemm(101, n, k, 1f, a, 0, k, b, 0, n, split, 0, n);
        VECTOR.gemm(m - 101, n, k, 1f, a, 101 * k, k, b, 0, n, split, 101 * n, n);
        assertArrayEquals(whole, split);
        float[] again = new float[m * n];
        VECTOR.gemm(m, n, k, 1f, a, 0, k, b, 0, n, again, 0, n);
        assertArrayEquals(whole, again);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 207, 702})
    void syrkMatchesF64ReferenceAndIsSymmetric(int n) {
        Random rnd = new Random(n);
        int rows = n == 702 ? 61 : 130, ldx = n + 3;
        float[] x = randomFloats(rnd, 2 + rows * ldx);
        for (LinalgKernels impl : new LinalgKernels[] {VECTOR, SCALAR}) {
            float[] h = new float[n * n];
            impl.syrk(rows, n, x, 2, ldx, h);
            impl.syrk(rows, n, x, 2, ldx, h); // accumulates: H = 2·XᵀX
            double[] h64 = new double[n * n];
            impl.syrkAccumulate(rows, n, x, 2, ldx, h64);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j <= i; j++) {
                    double exact = 0, mag = 0;
                    for (int r = 0; r < rows; r++) {
                        double t = (double) x[2 + r * ldx + i] * x[2 + r * ldx + j];
                        exact += t;
                        mag += Math.abs(t);
                    }
                    double tol = 2 * (rows + 1) * U32 * mag + 1e-30;
                    assertEquals(2 * exact, h[i * n + j], 2 * tol, "H[" + i + "," + j + "]");
                    assertEquals(exact, h64[i * n + j], tol, "H64[" + i + "," + j + "]");
                    assertEquals(h[i * n + j], h[j * n + i]);
                    assertEquals(h64[i * n + j], h64[j * n + i]);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 207, 702})
    void choleskyReproducesSpdInput(int n) {
        double[] a = spd(new Random(n), n);
        double[] lv = a.clone(), ls = a.clone();
        VECTOR.cholesky(n, lv);
        SCALAR.cholesky(n, ls);
        for (double[] l : new double[][] {lv, ls}) {
            double worst = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    if (j > i) assertEquals(0.0, l[i * n + j]);
                    double s = 0;
                    for (int k = 0; k <= Math.min(i, j); k++) s += l[i * n + k] * l[j * n + k];
                    worst = Math.max(worst, Math.abs(s - a[i * n + j]));
                }
            }
            assertTrue(worst < 1e-12 * 5, "‖A − LLᵀ‖ = " + worst);
        }
        // the two factors agree to forward-error level (cond(A) ≲ 10)
        for (int i = 0; i < n * n; i++) assertEquals(ls[i], lv[i], 1e-12, "L[" + i + "]");
    }

    @Test
    void choleskyRejectsIndefiniteAndNaN() {
        double[] a = {1, 2, 2, 1}; // eigenvalues 3 and −1
        assertThrows(ArithmeticException.class, () -> VECTOR.cholesky(2, a.clone()));
        assertThrows(ArithmeticException.class, () -> SCALAR.cholesky(2, a.clone()));
        double[] nan = spd(new Random(3), 70);
        nan[69 * 70 + 69] = Double.NaN;
        assertThrows(ArithmeticException.class, () -> VECTOR.cholesky(70, nan.clone()));
        assertThrows(ArithmeticException.class, () -> SCALAR.cholesky(70, nan.clone()));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 207, 702})
    void triangularInverseTimesMatrixIsIdentity(int n) {
        double[] l = spd(new Random(10 + n), n);
        VECTOR.cholesky(n, l);
        double[] xv = l.clone(), xs = l.clone();
        VECTOR.invertLower(n, xv);
        SCALAR.invertLower(n, xs);
        for (double[] x : new double[][] {xv, xs}) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    if (j > i) { assertEquals(0.0, x[i * n + j]); continue; }
                    double s = 0;
                    for (int k = j; k <= i; k++) s += x[i * n + k] * l[k * n + j];
                    // entries of L and L⁻¹ are O(1) (cond ≲ 10): n·u·‖X‖·‖L‖ ≈ 1e-13 at n = 702
                    assertEquals(i == j ? 1.0 : 0.0, s, 1e-11, "(L⁻¹L)[" + i + "," + j + "]");
                }
            }
        }
        for (int i = 0; i < n * n; i++) assertEquals(xs[i], xv[i], 1e-12);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 207})
    void triangularSolve(int n) {
        Random rnd = new Random(20 + n);
        double[] l = spd(rnd, n);
        VECTOR.cholesky(n, l);
        int nrhs = 35;
        double[] b = new double[n * nrhs];
        for (int i = 0; i < b.length; i++) b[i] = rnd.nextGaussian();
        for (LinalgKernels impl : new LinalgKernels[] {VECTOR, SCALAR}) {
            double[] x = b.clone();
            impl.solveLower(n, nrhs, l, x);
            for (int i = 0; i < n; i++) {
                for (int c = 0; c < nrhs; c++) {
                    double s = 0;
                    for (int k = 0; k <= i; k++) s += l[i * n + k] * x[k * nrhs + c];
                    assertEquals(b[i * nrhs + c], s, 1e-11);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 207, 702})
    void spdInverseTimesMatrixIsIdentityAndUpperFactorReproducesIt(int n) {
        double[] a = spd(new Random(30 + n), n);
        for (LinalgKernels impl : new LinalgKernels[] {VECTOR, SCALAR}) {
            double[] inv = Linalg.spdInverse(impl, n, a);
            for (int i = 0; i < n; i += Math.max(1, n / 50)) { // sampled rows keep this O(n²·50)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int k = 0; k < n; k++) s += a[i * n + k] * inv[k * n + j];
                    assertEquals(i == j ? 1.0 : 0.0, s, 1e-11, "(A·A⁻¹)[" + i + "," + j + "]");
                }
            }
            double[] u = Linalg.upperCholeskyOfInverse(impl, n, a);
            for (int i = 0; i < n; i += Math.max(1, n / 50)) {
                for (int j = 0; j < n; j++) {
                    if (j < i) assertEquals(0.0, u[i * n + j]);
                    double s = 0;
                    for (int k = 0; k <= Math.min(i, j); k++) s += u[k * n + i] * u[k * n + j];
                    assertEquals(inv[i * n + j], s, 1e-12);
                }
            }
        }
    }

    @Test
    void gptqBlockUpdateSubtractsErrorTimesHinvRows() {
        Random rnd = new Random(40);
        int rows = 7, cols = 207, i = 128, j = 200;
        float[] w = randomFloats(rnd, rows * cols), e = randomFloats(rnd, rows * (j - i)), h = randomFloats(rnd, cols * cols);
        float[] got = w.clone();
        Linalg.gptqBlockUpdate(VECTOR, got, rows, cols, e, i, j, h);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double want = w[r * cols + c], mag = 0;
                if (c >= j) {
                    for (int p = i; p < j; p++) { want -= (double) e[r * (j - i) + p - i] * h[p * cols + c]; mag += Math.abs((double) e[r * (j - i) + p - i] * h[p * cols + c]); }
                }
                assertEquals(want, got[r * cols + c], 2 * (j - i + 2) * U32 * (mag + Math.abs(w[r * cols + c])) + 1e-30);
            }
        }
    }

    @Test
    void gptqBlockUpdateFromTheBlockRowsAloneGivesTheSameBits() {
        // the sweep keeps only rows [i, j) of Hinv in f32: the kernel must see exactly the same operands
        Random rnd = new Random(41);
        int rows = 5, cols = 207, i = 128, j = 200;
        float[] w = randomFloats(rnd, rows * cols), e = randomFloats(rnd, rows * (j - i)), h = randomFloats(rnd, cols * cols);
        float[] block = java.util.Arrays.copyOfRange(h, i * cols, j * cols);
        for (LinalgKernels k : new LinalgKernels[] {VECTOR, SCALAR}) {
            float[] whole = w.clone(), rowsOnly = w.clone();
            Linalg.gptqBlockUpdate(k, whole, rows, cols, e, i, j, h);
            Linalg.gptqBlockUpdate(k, rowsOnly, rows, cols, e, i, j, block, 0);
            assertArrayEquals(whole, rowsOnly);
            org.junit.jupiter.api.Assertions.assertFalse(java.util.Arrays.equals(w, whole)); // the update did something
        }
    }
}
