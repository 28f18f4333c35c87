package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.ptq.observe.ActivationObserver;
import dev.lowbit.ptq.observe.HessianObserver;
import dev.lowbit.ptq.observe.MaxAbsObserver;
import dev.lowbit.ptq.observe.MeanAbsObserver;
import dev.lowbit.ptq.observe.MeanSquareObserver;
import org.junit.jupiter.api.Test;

/** The per-channel observers against their definitions, and against each other on the same batches. */
class ChannelObserversTest {

    @Test
    void perChannelStatisticsAcrossBatches() {
        MeanSquareObserver ms = new MeanSquareObserver(2);
        MaxAbsObserver mx = new MaxAbsObserver(2);
        MeanAbsObserver ma = new MeanAbsObserver(2);
        for (ActivationObserver o : new ActivationObserver[] {ms, mx, ma}) {
            o.add(new float[] {1, -2, -3, 4}, 2, 2);
            o.add(new float[] {0.5f, 0}, 1, 2);
            assertEquals(3, o.tokens());
        }
        // channel 0: 1, −3, 0.5; channel 1: −2, 4, 0 — exact in binary
        assertEquals((1 + 9 + 0.25) / 3, ms.meanSquare()[0], 0);
        assertEquals((4 + 16 + 0.0) / 3, ms.meanSquare()[1], 0);
        assertEquals(3f, mx.maxAbs()[0]);
        assertEquals(4f, mx.maxAbs()[1]);
        assertEquals(4.5 / 3, ma.meanAbs()[0], 0);
        assertEquals(6.0 / 3, ma.meanAbs()[1], 0);
    }

    /** Awkward sizes: diag(Σxxᵀ)/N is the mean square, and mean|x|² ≤ mean x² ≤ max|x|² (Jensen, bound). */
    @Test
    void statisticsAgreeWithEachOther() {
        int rows = 37, cols = 207;
        float[] x = TestWeights.gaussian(7, rows * cols, 1f);
        HessianObserver h = new HessianObserver(cols);
        MeanSquareObserver ms = new MeanSquareObserver(cols);
        MaxAbsObserver mx = new MaxAbsObserver(cols);
        MeanAbsObserver ma = new MeanAbsObserver(cols);
        for (ActivationObserver o : new ActivationObserver[] {h, ms, mx, ma}) o.add(x, rows, cols);
        double[] s = h.sum();
        double[] mean = ms.meanSquare();
        float[] max = mx.maxAbs();
        double[] abs = ma.meanAbs();
        for (int c = 0; c < cols; c++) {
            // the Hessian's diagonal is an f32 sum of 37 squares: relative error ≤ 37·2⁻²⁴ ≈ 2.2e-6
            assertEquals(mean[c] * rows, s[c * cols + c], 1e-5 * s[c * cols + c]);
            assertTrue(abs[c] * abs[c] <= mean[c] * (1 + 1e-12));
            assertTrue(mean[c] <= (double) max[c] * max[c]);
        }
    }

    @Test
    void rejectsMismatchedShapes() {
        for (ActivationObserver o : new ActivationObserver[] {new MeanSquareObserver(3), new MaxAbsObserver(3), new MeanAbsObserver(3)}) {
            assertThrows(IllegalArgumentException.class, () -> o.add(new float[5], 2, 3));
            assertThrows(IllegalArgumentException.class, () -> o.add(new float[4], 2, 2));
            assertEquals(0, o.tokens());
        }
        assertThrows(IllegalArgumentException.class, () -> new MeanAbsObserver(0));
    }
}
