package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lowbit.ptq.observe.HessianObserver;
import dev.lowbit.ptq.observe.PackedSymmetric;
import org.junit.jupiter.api.Test;

class HessianObserverTest {

    /** Σ x·xᵀ over batches of awkward sizes against the definition summed in f64, and H = 2/N·Σ with N tokens. */
    @Test
    void sumsOuterProductsOverEveryTokenOfEveryBatch() {
        int cols = 70;
        int[] batchRows = {13, 1, 40, 7};
        HessianObserver obs = new HessianObserver(cols);
        double[] ref = new double[cols * cols];
        for (int b = 0; b < batchRows.length; b++) {
            float[] x = TestWeights.gaussian(100 + b, batchRows[b] * cols, 1f + b);
            obs.add(x, batchRows[b], cols);
            for (int r = 0; r < batchRows[b]; r++) {
                for (int i = 0; i < cols; i++) {
                    for (int j = 0; j < cols; j++) ref[i * cols + j] += (double) x[r * cols + i] * x[r * cols + j];
                }
            }
        }
        assertEquals(61, obs.tokens());
        double[] s = obs.sum();
        double[] h = obs.hessian();
        for (int i = 0; i < cols; i++) {
            for (int j = 0; j < cols; j++) {
                // per batch the sum runs in f32 over ≤ 40 rows: |error| ≤ 2·40·2⁻²⁴·Σ|x_i·x_j| ≤ ~5e-6·√(S_ii·S_jj)
                double tol = 1e-5 * Math.sqrt(ref[i * cols + i] * ref[j * cols + j]);
                assertEquals(ref[i * cols + j], s[i * cols + j], tol, "S[" + i + "," + j + "]");
                assertEquals(s[i * cols + j], s[j * cols + i]);
                assertEquals(2.0 / 61 * s[i * cols + j], h[i * cols + j], 1e-15 * Math.abs(h[i * cols + j]));
            }
        }
    }

    /** A Gram matrix formed elsewhere is added entry by entry, exactly; tokens are counted, not batches. */
    @Test
    void addsGramMatricesExactlyAndCountsTokens() {
        HessianObserver obs = new HessianObserver(3);
        assertEquals(0.0, obs.hessian()[0]);
        obs.add(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);             // rows (1,2,3), (4,5,6)
        obs.addGram(new float[] {1, 0, -2, 0, 0, 0, -2, 0, 4}, 1);  // the row (−1, 0, 2)
        assertArrayEquals(new double[] {18, 22, 25, 22, 29, 36, 25, 36, 49}, obs.sum(), 0);
        assertEquals(3, obs.tokens());
        assertEquals(2.0 / 3 * 18, obs.hessian()[0], 1e-12);
        double[] copy = obs.sum();
        copy[0] = 99;
        assertEquals(18, obs.sum()[0]);
    }

    /**
     * Bands of rows given from their diagonal on ({@link HessianObserver#addGramUpper}) fill the whole symmetric sum:
     * the Gram matrix of 3 rows over 5 features (integers: every value exact) in bands of 2, 2 and 1 rows, then a whole
     * Gram matrix added on top and another band after it, must read back as the sums written out here, with the
     * entries below the diagonal equal to those above. A band put at the wrong offset, a lower triangle not filled in
     * (or filled in after the whole matrix was added, losing its lower half) would not match.
     */
    @Test
    void upperBandsFillTheSymmetricSum() {
        int n = 5;
        float[][] rows = {{1, 2, 0, -1, 3}, {0, 1, 4, 2, -2}, {2, -3, 1, 0, 1}};
        double[] want = new double[n * n];
        float[] gram = new float[n * n];
        for (float[] x : rows) for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) gram[i * n + j] += x[i] * x[j];
        HessianObserver obs = new HessianObserver(n);
        addUpper(obs, gram, n, new int[] {0, 2, 4, 5});
        obs.addTokens(3);
        obs.addGram(gram, 3);
        addUpper(obs, gram, n, new int[] {0, 3, 5});
        obs.addTokens(3);
        for (int i = 0; i < n * n; i++) want[i] = 3.0 * gram[i];
        assertArrayEquals(want, obs.sum(), 0);
        assertArrayEquals(want, obs.takeSum(), 0);
        assertEquals(9, obs.tokens());
        assertThrows(IllegalArgumentException.class, () -> new HessianObserver(n).addGramUpper(java.lang.foreign.MemorySegment.ofArray(new float[5]), 0, 2));
        assertThrows(IllegalArgumentException.class, () -> new HessianObserver(n).addGramUpper(java.lang.foreign.MemorySegment.ofArray(new float[2]), 4, 2));
    }

    /** Adds {@code gram}'s rows in bands [cuts[k], cuts[k+1]), each from its diagonal column on, in native byte order. */
    private static void addUpper(HessianObserver obs, float[] gram, int n, int[] cuts) {
        for (int k = 0; k + 1 < cuts.length; k++) {
            int from = cuts[k], count = cuts[k + 1] - from, width = n - from;
            java.lang.foreign.MemorySegment band = java.lang.foreign.Arena.ofAuto().allocate((long) count * width * Float.BYTES);
            for (int r = 0; r < count; r++) {
                for (int c = 0; c < width; c++) {
                    band.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.nativeOrder()),
                            (long) r * width + c, gram[(from + r) * n + from + c]);
                }
            }
            obs.addGramUpper(band, from, count);
        }
    }

    /**
     * GPTQ's hand-over: the triangle ({@link HessianObserver#packedSum}, {@link HessianObserver#takePacked}) holds the
     * whole sum's entries from the diagonal on, row by row (laid out here independently: row i's entries at
     * i·n − i(i−1)/2), as a copy and then as the observer's own, after which the observer is spent. Gram rows given
     * whole ({@link HessianObserver#addGramRows}) land in the same places as bands.
     */
    @Test
    void theTriangleIsTheSumFromItsDiagonalOnAndIsHandedOverOnce() {
        int n = 7;
        float[] gram = new float[n * n];
        float[][] rows = {{1, -2, 0, 3, 1, 0, 2}, {2, 1, -1, 0, 4, 1, -3}};
        for (float[] x : rows) for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) gram[i * n + j] += x[i] * x[j];
        HessianObserver obs = new HessianObserver(n);
        java.lang.foreign.MemorySegment whole = java.lang.foreign.Arena.ofAuto().allocate((long) n * n * Float.BYTES);
        for (int i = 0; i < n * n; i++) {
            whole.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.nativeOrder()), i, gram[i]);
        }
        obs.addGramRows(whole.asSlice(0, 3L * n * Float.BYTES), 0, 3);
        obs.addGramRows(whole.asSlice(3L * n * Float.BYTES), 3, n - 3);
        obs.addTokens(2);
        addUpper(obs, gram, n, new int[] {0, 4, 7});
        obs.addTokens(2);
        double[] want = new double[n * (n + 1) / 2];
        for (int i = 0; i < n; i++) for (int j = i; j < n; j++) want[i * n - i * (i - 1) / 2 + j - i] = 2.0 * gram[i * n + j];
        PackedSymmetric copy = obs.packedSum();
        assertArrayEquals(want, copy.upper(), 0);
        copy.upper()[0] = -1;
        PackedSymmetric own = obs.takePacked();
        assertArrayEquals(want, own.upper(), 0);
        assertThrows(IllegalStateException.class, obs::sum);
        assertThrows(IllegalStateException.class, obs::takePacked);
        // and the whole matrix read back from the triangle is symmetric, entry for entry the sum
        double[] full = own.toFull();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                assertEquals(2.0 * gram[Math.min(i, j) * n + Math.max(i, j)], full[i * n + j], 0);
                assertEquals(full[i * n + j], own.get(i, j), 0);
            }
        }
        assertArrayEquals(own.upper(), PackedSymmetric.ofUpper(full, n).upper(), 0);
        assertThrows(IllegalArgumentException.class, () -> new PackedSymmetric(n, new double[n * n]));
    }

    @Test
    void rejectsBadInput() {
        HessianObserver obs = new HessianObserver(3);
        assertThrows(IllegalArgumentException.class, () -> obs.add(new float[4], 1, 4));
        assertThrows(IllegalArgumentException.class, () -> obs.add(new float[5], 2, 3));
        assertThrows(IllegalArgumentException.class, () -> obs.add(new float[] {Float.NaN, 0, 0}, 1, 3));
        assertThrows(IllegalArgumentException.class, () -> obs.addGram(new float[4], 1));
        assertThrows(IllegalArgumentException.class, () -> new HessianObserver(0));
        assertEquals(0, obs.tokens());
    }
}
