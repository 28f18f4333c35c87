package dev.lowbit.kernels.hadamard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The size-n transform against an independently built dense matrix: Sylvester's H_M by the doubling recursion, the
 * base H_k from {@link HadamardMatrices} (itself checked against H·Hᵀ = k·I), their Kronecker product H_k ⊗ H_M
 * entry by entry, scaled by 1/√n; plus orthogonality (norms kept, the transpose inverts) on awkward sizes.
 */
class HadamardTest {

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** Sylvester by recursion: H_1 = [1], H_2m = [[H, H], [H, −H]]. */
    private static int[][] sylvester(int m) {
        int[][] h = {{1}};
        while (h.length < m) {
            int s = h.length;
            int[][] g = new int[2 * s][2 * s];
            for (int i = 0; i < s; i++) {
                for (int j = 0; j < s; j++) {
                    g[i][j] = h[i][j];
                    g[i][j + s] = h[i][j];
                    g[i + s][j] = h[i][j];
                    g[i + s][j + s] = -h[i][j];
                }
            }
            h = g;
        }
        return h;
    }

    /** (H_k ⊗ H_M)/√n, dense. */
    private static double[][] reference(int n, int k) {
        int m = n / k;
        int[][] hm = sylvester(m);
        byte[] hk = k == 1 ? new byte[] {1} : HadamardMatrices.of(k).orElseThrow();
        double s = 1 / Math.sqrt(n);
        double[][] h = new double[n][n];
        for (int a = 0; a < k; a++)
            for (int c = 0; c < k; c++)
                for (int b = 0; b < m; b++)
                    for (int d = 0; d < m; d++) h[a * m + b][c * m + d] = hk[a * k + c] * hm[b][d] * s;
        return h;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 64, 512, 12, 24, 96, 20, 160, 28, 112, 1536, 36})
    void applyMatchesDenseKroneckerProduct(int n) {
        Hadamard t = Hadamard.of(n);
        double[][] h = reference(n, t.baseOrder());
        float[] x = random(n, n);
        float[] y = x.clone();
        float[] z = x.clone();
        t.apply(y, 0);
        t.applyTransposed(z, 0);
        double sumAbs = 0;
        for (float v : x) sumAbs += Math.abs(v);
        // f32 sums of n terms in (log₂M + k) rounded steps, then one scaling: |error| ≤ (log₂n + k + 1)·2⁻²⁴·Σ|x|/√n
        double tol = (Integer.numberOfTrailingZeros(n) + t.baseOrder() + 2) * 0x1p-24 * sumAbs / Math.sqrt(n);
        for (int j = 0; j < n; j++) {
            double ref = 0, refT = 0;
            for (int i = 0; i < n; i++) {
                ref += x[i] * h[i][j];
                refT += x[i] * h[j][i];
            }
            assertEquals(ref, y[j], tol, "x·H element " + j + " of n = " + n);
            assertEquals(refT, z[j], tol, "x·Hᵀ element " + j + " of n = " + n);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {512, 1536, 2560, 3584, 4096, 5120, 11264})
    void orthonormalOnModelSizes(int n) {
        Hadamard t = Hadamard.of(n);
        float[] x = random(n, 5);
        float[] y = x.clone();
        t.apply(y, 0);
        double nx = 0, ny = 0;
        for (int i = 0; i < n; i++) {
            nx += (double) x[i] * x[i];
            ny += (double) y[i] * y[i];
        }
        // ‖x·H/√n‖ = ‖x‖; f32 rounding of N(0,1) data keeps the squared norm to ~1e-6 relative
        assertEquals(nx, ny, 1e-5 * nx, "norm, n = " + n);
        t.applyTransposed(y, 0);
        for (int i = 0; i < n; i++) assertEquals(x[i], y[i], 2e-5, "inverse, element " + i + " of n = " + n);
    }

    @Test
    void baseOrderIsTheSmallestPaleyFactor() {
        assertEquals(1, Hadamard.of(4096).baseOrder());
        assertEquals(12, Hadamard.of(1536).baseOrder());
        assertEquals(20, Hadamard.of(5120).baseOrder());
        assertEquals(28, Hadamard.of(3584).baseOrder());
        assertEquals(44, Hadamard.of(11264).baseOrder());
    }

    @Test
    void unsupportedSizesAreRefusedWithTheSize() {
        for (int n : new int[] {11008, 43 * 64, 6, 13, 0}) {
            assertTrue(Hadamard.tryOf(n).isEmpty(), "size " + n);
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Hadamard.of(n));
            assertTrue(e.getMessage().contains("size " + n), e.getMessage());
        }
    }

    @Test
    void vectorAndScalarKernelsGiveTheSameBits() {
        for (int n : new int[] {1536, 512, 20 * 32}) {
            Hadamard v = Hadamard.tryOf(n, HadamardKernels.vector()).orElseThrow();
            Hadamard s = Hadamard.tryOf(n, HadamardKernels.scalar()).orElseThrow();
            float[] a = random(3 * n, n);
            float[] b = a.clone();
            v.applyRows(a, 0, 3);
            s.applyRows(b, 0, 3);
            org.junit.jupiter.api.Assertions.assertArrayEquals(b, a, "n = " + n);
        }
    }
}
