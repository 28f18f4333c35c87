package dev.lowbit.kernels.hadamard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fast transform against the definition H[i][j] = (−1)^popcount(i & j) evaluated as a dense f64 product, and the
 * Vector API path against the scalar reference bit for bit (same operations on the same operands by construction).
 */
class WalshHadamardKernelsTest {

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 8, 16, 32, 64, 128, 512, 1024})
    void scalarMatchesDefinition(int n) {
        float[] x = random(n, n);
        float[] y = x.clone();
        HadamardKernels.scalar().fwht(y, 0, n);
        double sumAbs = 0;
        for (float v : x) sumAbs += Math.abs(v);
        // each output is a ±sum of the n inputs formed in log₂n rounded stages: |error| ≤ log₂n · 2⁻²⁴ · Σ|x| (+ slack)
        double tol = (Integer.numberOfTrailingZeros(n) + 1) * 0x1p-24 * sumAbs;
        for (int j = 0; j < n; j++) {
            double ref = 0;
            for (int i = 0; i < n; i++) ref += (Integer.bitCount(i & j) % 2 == 0 ? 1 : -1) * (double) x[i];
            assertEquals(ref, y[j], tol, "element " + j + " of n = " + n);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 2048, 16384})
    void vectorIsBitIdenticalToScalar(int n) {
        WalshHadamardKernels vector = HadamardKernels.vector();
        for (int off : new int[] {0, 3}) {
            float[] x = new float[off + n + 5];
            System.arraycopy(random(n, 7L * n), 0, x, off, n);
            float[] a = x.clone();
            float[] b = x.clone();
            HadamardKernels.scalar().fwht(a, off, n);
            vector.fwht(b, off, n);
            assertArrayEquals(a, b, "n = " + n + ", offset " + off); // exact: and the padding untouched
        }
    }

    @Test
    void twiceIsNTimesIdentity() {
        int n = 4096;
        float[] x = random(n, 3);
        float[] y = x.clone();
        HadamardKernels.chosen().fwht(y, 0, n);
        HadamardKernels.chosen().fwht(y, 0, n);
        // H·H = n·I; two passes of 12 rounded stages on N(0,1) data: relative error far below 1e-5
        for (int i = 0; i < n; i++) assertEquals(x[i], y[i] / n, 1e-5, "element " + i);
    }

    @Test
    void rowsAreIndependent() {
        int n = 64, rows = 5;
        float[] x = random(n * rows, 11);
        float[] all = x.clone();
        HadamardKernels.chosen().fwhtRows(all, 0, rows, n);
        for (int r = 0; r < rows; r++) {
            float[] one = java.util.Arrays.copyOfRange(x, r * n, (r + 1) * n);
            HadamardKernels.chosen().fwht(one, 0, n);
            assertArrayEquals(one, java.util.Arrays.copyOfRange(all, r * n, (r + 1) * n));
        }
    }

    @Test
    void rejectsBadSizes() {
        for (WalshHadamardKernels k : new WalshHadamardKernels[] {HadamardKernels.scalar(), HadamardKernels.vector()}) {
            assertThrows(IllegalArgumentException.class, () -> k.fwht(new float[12], 0, 12));
            assertThrows(IllegalArgumentException.class, () -> k.fwht(new float[12], 0, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> k.fwht(new float[16], 4, 16));
        }
    }
}
