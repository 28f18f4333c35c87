package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lowbit.ptq.observe.HessianObserver;
import org.junit.jupiter.api.Test;

class HessianObserverTest {

    @Test
    void matchesTheReferenceRunningScaling() {
        int cols = 70;
        int[] batchRows = {13, 1, 40, 7};
        HessianObserver obs = new HessianObserver(cols);
        double[] ref = new double[cols * cols]; // the reference's recurrence, in f64: H *= n/(n+1); x *= √(2/n'); H += x·xᵀ
        int n = 0;
        float[][] batches = new float[batchRows.length][];
        for (int b = 0; b < batchRows.length; b++) {
            float[] x = TestWeights.gaussian(100 + b, batchRows[b] * cols, 1f + b);
            batches[b] = x;
            obs.add(x, batchRows[b], cols);
            for (int i = 0; i < ref.length; i++) ref[i] *= (double) n / (n + 1);
            n += 1;
            double f = Math.sqrt(2.0 / n);
            for (int r = 0; r < batchRows[b]; r++) {
                for (int i = 0; i < cols; i++) {
                    for (int j = 0; j < cols; j++) ref[i * cols + j] += f * x[r * cols + i] * f * x[r * cols + j];
                }
            }
        }
        assertEquals(4, obs.samples());
        assertEquals(61, obs.rows());
        double[] h = obs.hessian();
        for (int i = 0; i < cols; i++) {
            for (int j = 0; j < cols; j++) {
                // per batch the sum runs in f32 over ≤ 40 rows: |error| ≤ 2·40·2⁻²⁴·Σ|x_i·x_j| ≤ ~5e-6·√(H_ii·H_jj)
                double tol = 1e-5 * Math.sqrt(ref[i * cols + i] * ref[j * cols + j]);
                assertEquals(ref[i * cols + j], h[i * cols + j], tol, "H[" + i + "," + j + "]");
                assertEquals(h[i * cols + j], h[j * cols + i]);
            }
        }
    }

    @Test
    void countsBatchesOfSeveralSamplesAndRejectsBadInput() {
        HessianObserver obs = new HessianObserver(3);
        assertEquals(0.0, obs.hessian()[0]);
        obs.add(new float[] {1, 2, 3, 4, 5, 6}, 2, 3, 2);
        assertEquals(2, obs.samples());
        assertEquals(2.0 / 2 * (1 + 16), obs.hessian()[0], 1e-12);
        assertThrows(IllegalArgumentException.class, () -> obs.add(new float[4], 1, 4));
        assertThrows(IllegalArgumentException.class, () -> obs.add(new float[] {Float.NaN, 0, 0}, 1, 3));
    }
}
