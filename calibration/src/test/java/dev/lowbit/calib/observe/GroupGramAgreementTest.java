package dev.lowbit.calib.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lowbit.calib.model.DjlEngine;
import dev.lowbit.ptq.observe.GroupGramObserver;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The group-diagonal Gram blocks (what AWQ's clip search reads of Σ x·xᵀ) against the full Hessian they are cut from:
 * the whole-product path must hold exactly the full Hessian's entries where the Hessian is one product too (≤ 512
 * features: tiny-llama-code's clip search is bit-identical only then), and the same values up to f32 summation order
 * where the Hessian is formed in bands (> 512 features: MKL may block a band's product differently from the whole one);
 * the per-group path (wide inputs) the same values up to f32 summation order, the heap path an f64 sum written out here.
 * Widths are awkward (453 and 517 in groups of 128: short last groups of 69 and 5).
 */
class GroupGramAgreementTest {
    private static float[] batch(SplittableRandom rnd, int rows, int cols) {
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * (1 + (i % cols) / 64.0) + (i % cols == 3 ? 5 : 0));
        return x;
    }

    /** Block b's (i, j) entry in the full row-major n×n matrix. */
    private static double full(double[] h, int cols, int g, int b, int i, int j) {
        return h[(b * g + i) * cols + b * g + j];
    }

    /** Two batches (300 and 211 rows, seed 5) of {@code cols} features, each seen by both observers. */
    private static void observeBoth(int cols, EngineHessians hessian, EngineGroupGrams blocks) {
        SplittableRandom rnd = new SplittableRandom(5);
        try (NDManager m = DjlEngine.newManager(2)) {
            for (int rows : new int[] {300, 211}) {
                try (NDArray a = m.create(batch(rnd, rows, cols), new Shape(rows, cols))) {
                    hessian.observe("m", a);
                    blocks.observe("m", a);
                }
            }
        }
    }

    @Test
    void wholeProductBlocksAreTheHessiansEntries() {
        int cols = 453, g = 128; // ≤ EngineHessians.BAND_ROWS: the Hessian is one product, as the blocks are
        EngineHessians hessian = new EngineHessians();
        EngineGroupGrams blocks = new EngineGroupGrams(g);
        observeBoth(cols, hessian, blocks);
        double[] h = hessian.get("m").sum();
        GroupGramObserver o = blocks.get("m");
        assertEquals(511, o.tokens());
        double[] s = o.sum();
        assertEquals(3L * g * g + 69 * 69, s.length);
        for (int b = 0; b * g < cols; b++) {
            int len = Math.min(g, cols - b * g);
            for (int i = 0; i < len; i++) {
                for (int j = 0; j < len; j++) {
                    assertEquals(full(h, cols, g, b, i, j), s[GroupGramObserver.offset(g, b) + i * len + j], 0.0, "block " + b + " (" + i + ", " + j + ")");
                }
            }
        }
    }

    /**
     * Over 512 features the Hessian is formed in bands of 512 rows (EngineHessians.BAND_ROWS) while the blocks still come
     * from one product: the same f32 dot products, summed in an order MKL picks per shape (a 5-row tail band differed in
     * the last bit here). Tolerance 1e-4 of the Cauchy–Schwarz scale √(H_ii·H_jj), as in HessianAgreementTest for sums
     * of ≤ 4096 f32 products (~4e-6 expected); a block at a wrong offset or a missed short last group is off by O(1).
     */
    @Test
    void bandedHessianHoldsTheBlocksUpToSummationOrder() {
        int cols = 517, g = 128;
        EngineHessians hessian = new EngineHessians();
        EngineGroupGrams blocks = new EngineGroupGrams(g);
        observeBoth(cols, hessian, blocks);
        double[] h = hessian.get("m").sum();
        double[] s = blocks.get("m").sum();
        assertEquals(4L * g * g + 5 * 5, s.length);
        double worst = 0;
        for (int b = 0; b * g < cols; b++) {
            int len = Math.min(g, cols - b * g), at = GroupGramObserver.offset(g, b);
            for (int i = 0; i < len; i++) {
                for (int j = 0; j < len; j++) {
                    double scale = Math.sqrt(full(h, cols, g, b, i, i) * full(h, cols, g, b, j, j));
                    worst = Math.max(worst, Math.abs(full(h, cols, g, b, i, j) - s[at + i * len + j]) / scale);
                }
            }
        }
        assertTrue(worst < 1e-4, "worst relative difference " + worst);
    }

    /**
     * Per-group products (the whole product forced off with a bound below 517²): the same blocks up to f32 summation
     * order — 1e-4 of the Cauchy–Schwarz scale √(H_ii·H_jj), as HessianAgreementTest allows for sums of ≤ 4096 f32
     * products (~4e-6 expected); a block at a wrong offset or a missed short last group is off by O(1).
     */
    @Test
    void perGroupProductsAgreeWithTheWholeOne() {
        int cols = 517, g = 128;
        SplittableRandom rnd = new SplittableRandom(9);
        EngineGroupGrams whole = new EngineGroupGrams(g);
        EngineGroupGrams perGroup = new EngineGroupGrams(g, cols * cols - 1);
        try (NDManager m = DjlEngine.newManager(2)) {
            for (int rows : new int[] {700, 301}) {
                try (NDArray a = m.create(batch(rnd, rows, cols), new Shape(rows, cols))) {
                    whole.observe("m", a);
                    perGroup.observe("m", a);
                }
            }
        }
        double[] a = whole.get("m").sum(), p = perGroup.get("m").sum();
        assertEquals(1001, perGroup.get("m").tokens());
        double worst = 0;
        for (int b = 0; b * g < cols; b++) {
            int len = Math.min(g, cols - b * g), at = GroupGramObserver.offset(g, b);
            for (int i = 0; i < len; i++) {
                for (int j = 0; j < len; j++) {
                    double scale = Math.sqrt(a[at + i * len + i] * a[at + j * len + j]);
                    worst = Math.max(worst, Math.abs(a[at + i * len + j] - p[at + i * len + j]) / scale);
                }
            }
        }
        assertTrue(worst < 1e-4, "worst relative difference " + worst);
    }

    /** The heap path against Σ_t x_ti·x_tj in f64 written out here, one block (group ≤ 0) and groups of 7 over 30. */
    @Test
    void heapBatchesSumEachBlockInF64() {
        int rows = 40, cols = 30;
        float[] x = batch(new SplittableRandom(3), rows, cols);
        for (int group : new int[] {0, 7}) {
            GroupGramObserver o = new GroupGramObserver(cols, group);
            o.add(x, rows, cols);
            int g = group <= 0 ? cols : group;
            double[] s = o.sum();
            for (int b = 0; b * g < cols; b++) {
                int from = b * g, len = Math.min(g, cols - from);
                for (int i = 0; i < len; i++) {
                    for (int j = 0; j < len; j++) {
                        double want = 0;
                        for (int t = 0; t < rows; t++) want += (double) x[t * cols + from + i] * x[t * cols + from + j];
                        // the same f64 products summed in the same token order, zero terms skipped: equal to rounding
                        assertEquals(want, s[GroupGramObserver.offset(g, b) + i * len + j], 1e-12 * Math.abs(want) + 1e-12);
                    }
                }
            }
        }
        float[] bad = x.clone();
        bad[17] = Float.NaN;
        assertThrows(IllegalArgumentException.class, () -> new GroupGramObserver(cols, 7).add(bad, rows, cols));
        GroupGramObserver spent = new GroupGramObserver(cols, 7);
        spent.takeSum();
        assertThrows(IllegalStateException.class, spent::sum);
    }
}
