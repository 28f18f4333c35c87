package dev.lowbit.ptq.rotate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * R = diag(s)·H/√n against its dense form built here from the definition (signs from the seed, H from the dense
 * transform): x·R, x·Rᵀ and Rᵀ·W in f64 vs the fast f32 paths; R·Rᵀ = I; the seed changes R.
 */
class RandomHadamardTest {
    /** f32 transform of N(0,1) data of size ≤ 1536: errors ~1e-6; 1e-4 absolute still catches any wrong sign or index. */
    private static final double TOL = 1e-4;

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    @ParameterizedTest
    @ValueSource(ints = {64, 512, 96, 1536})
    void fastPathsMatchDenseR(int n) {
        RandomHadamard r = RandomHadamard.of(n, 42);
        double[] rd = r.dense();
        // R·Rᵀ = I
        for (int i = 0; i < n; i += 7) {
            for (int j = 0; j < n; j += 5) {
                double dot = 0;
                for (int c = 0; c < n; c++) dot += rd[i * n + c] * rd[j * n + c];
                assertEquals(i == j ? 1 : 0, dot, 1e-12, "(R·Rᵀ)[" + i + "][" + j + "]");
            }
        }
        // signs: R's rows are ±(H/√n) rows with the seed's sign pattern, so entry (i, 0) carries sᵢ·H[i][0]
        float[] x = random(n, 1);
        float[] xr = x.clone();
        r.rotateRows(xr, 0, 1);
        float[] xu = x.clone();
        r.unrotateRows(xu, 0, 1);
        for (int j = 0; j < n; j++) {
            double ref = 0, refT = 0;
            for (int i = 0; i < n; i++) {
                ref += x[i] * rd[i * n + j];
                refT += x[i] * rd[j * n + i];
            }
            assertEquals(ref, xr[j], TOL, "x·R[" + j + "]");
            assertEquals(refT, xu[j], TOL, "x·Rᵀ[" + j + "]");
        }
        int cols = 3;
        float[] w = random(n * cols, 2);
        float[] wr = w.clone();
        r.rotateColumns(wr, 0, cols);
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < cols; c++) {
                double ref = 0;
                for (int k = 0; k < n; k++) ref += rd[k * n + i] * w[k * cols + c];
                assertEquals(ref, wr[i * cols + c], TOL, "(Rᵀ·W)[" + i + "][" + c + "]");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {512, 1536})
    void seedChangesTheRotation(int n) {
        float[] a = random(n, 3), b = a.clone();
        RandomHadamard.of(n, 0).rotateRows(a, 0, 1);
        RandomHadamard.of(n, 1).rotateRows(b, 0, 1);
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(b));
    }

    @ParameterizedTest
    @ValueSource(ints = {100, 11008})
    void unsupportedSizeIsRefused(int n) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RandomHadamard.of(n, 0));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("size " + n), e.getMessage());
    }
}
