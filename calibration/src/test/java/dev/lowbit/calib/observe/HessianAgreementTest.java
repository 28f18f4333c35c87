package dev.lowbit.calib.observe;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lowbit.calib.model.DjlEngine;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The engine-side Hessian (one f32 GEMM per batch in PyTorch) and ptq-algorithms' Java SYRK observer must agree:
 * both are Σ xxᵀ accumulated in f32 per batch and reduced in f64, so they may differ only by f32 summation order.
 */
class HessianAgreementTest {
    @Test
    void engineGemmAgreesWithJavaSyrk() {
        int rows = 4096, cols = 512;
        SplittableRandom rnd = new SplittableRandom(7);
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * (1 + (i % cols) / 64.0));
        EngineHessians engine = new EngineHessians();
        dev.lowbit.ptq.observe.HessianObserver java = new dev.lowbit.ptq.observe.HessianObserver(cols);
        try (NDManager m = DjlEngine.newManager(2)) {
            NDArray a = m.create(x, new Shape(rows, cols));
            engine.observe("m", a);
        }
        java.add(x, rows, cols);
        double[] he = engine.get("m").sum();
        double[] hj = java.sum();
        double worst = 0;
        for (int i = 0; i < cols; i++) {
            for (int j = 0; j < cols; j++) {
                double a = he[i * cols + j], b = hj[i * cols + j];
                double scale = Math.sqrt(he[i * cols + i] * he[j * cols + j]);
                worst = Math.max(worst, Math.abs(a - b) / scale);
            }
        }
        // f32 sums of 4096 products: relative error ~ sqrt(4096)·2^-24 ≈ 4e-6 of the Cauchy–Schwarz bound; allow 1e-4.
        assertTrue(worst < 1e-4, "worst relative difference " + worst);
    }

    /**
     * A wide input's Xᵀ·X formed in bands of rows (the bound forced down to 100 rows of 517: five bands and a short
     * last one of 17) over two batches must agree with the Java SYRK as the whole product does (same 1e-4 bound of
     * the Cauchy–Schwarz scale: only f32 summation order may differ), with every token counted once per batch.
     * A band written at the wrong offset, a missed last band or tokens counted per band would not fit.
     */
    @Test
    void bandedEngineProductAgreesWithJavaSyrk() {
        int cols = 517;
        SplittableRandom rnd = new SplittableRandom(13);
        EngineHessians engine = new EngineHessians(100 * cols);
        dev.lowbit.ptq.observe.HessianObserver java = new dev.lowbit.ptq.observe.HessianObserver(cols);
        try (NDManager m = DjlEngine.newManager(2)) {
            for (int rows : new int[] {700, 301}) {
                float[] x = new float[rows * cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * (1 + (i % cols) / 64.0) + (i % cols == 3 ? 5 : 0));
                try (NDArray a = m.create(x, new Shape(rows, cols))) {
                    engine.observe("m", a);
                }
                java.add(x, rows, cols);
            }
        }
        assertTrue(engine.get("m").tokens() == 1001, "tokens " + engine.get("m").tokens());
        double[] he = engine.get("m").sum(), hj = java.sum();
        double worst = 0;
        for (int i = 0; i < cols; i++) {
            for (int j = 0; j < cols; j++) {
                double scale = Math.sqrt(hj[i * cols + i] * hj[j * cols + j]);
                worst = Math.max(worst, Math.abs(he[i * cols + j] - hj[i * cols + j]) / scale);
            }
        }
        assertTrue(worst < 1e-4, "worst relative difference " + worst);
    }

    /**
     * An input wider than {@link EngineHessians#BAND_ROWS} (1100 features: bands of 512, 512 and 76 rows, each from its
     * diagonal on) over two batches must agree with the Java SYRK within the same 1e-4 of the Cauchy–Schwarz scale,
     * and be exactly symmetric (the entries below the diagonal are copies of those above).
     */
    @Test
    void triangularBandsAgreeWithJavaSyrk() {
        int cols = 1100;
        SplittableRandom rnd = new SplittableRandom(17);
        EngineHessians engine = new EngineHessians();
        dev.lowbit.ptq.observe.HessianObserver java = new dev.lowbit.ptq.observe.HessianObserver(cols);
        try (NDManager m = DjlEngine.newManager(2)) {
            for (int rows : new int[] {600, 77}) {
                float[] x = new float[rows * cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * (1 + (i % cols) / 200.0));
                try (NDArray a = m.create(x, new Shape(rows, cols))) {
                    engine.observe("m", a);
                }
                java.add(x, rows, cols);
            }
        }
        assertTrue(engine.get("m").tokens() == 677, "tokens " + engine.get("m").tokens());
        double[] he = engine.get("m").sum(), hj = java.sum();
        double worst = 0;
        for (int i = 0; i < cols; i++) {
            for (int j = 0; j < cols; j++) {
                assertTrue(he[i * cols + j] == he[j * cols + i], "asymmetric at " + i + "," + j);
                double scale = Math.sqrt(hj[i * cols + i] * hj[j * cols + j]);
                worst = Math.max(worst, Math.abs(he[i * cols + j] - hj[i * cols + j]) / scale);
            }
        }
        assertTrue(worst < 1e-4, "worst relative difference " + worst);
    }

    /**
     * AWQ's mean |x| from engine column sums (f32 per batch, f64 across batches) against the heap observer's f64 sums,
     * over two batches of awkward widths (207 columns) with a dead channel and a sign-flipped heavy one: the two may
     * differ by f32 summation of ≤ 1000 terms (relative ~1e-5); 1e-4 leaves room, a wrong axis or missing abs does not fit.
     */
    @Test
    void engineMeanAbsAgreesWithTheHeapObserver() {
        int cols = 207;
        SplittableRandom rnd = new SplittableRandom(11);
        EngineMeanAbs engine = new EngineMeanAbs();
        dev.lowbit.ptq.observe.MeanAbsObserver heap = new dev.lowbit.ptq.observe.MeanAbsObserver(cols);
        try (NDManager m = DjlEngine.newManager(2)) {
            for (int rows : new int[] {1000, 333}) {
                float[] x = new float[rows * cols];
                for (int i = 0; i < x.length; i++) {
                    int c = i % cols;
                    x[i] = c == 5 ? 0f : (float) (rnd.nextGaussian() * (c == 17 ? -40 : 1 + c / 50.0));
                }
                try (NDArray a = m.create(x, new Shape(rows, cols))) {
                    engine.observe("m", a);
                }
                heap.add(x, rows, cols);
            }
        }
        double[] e = engine.get("m").meanAbs(), h = heap.meanAbs();
        assertTrue(engine.get("m").tokens() == 1333, "tokens " + engine.get("m").tokens());
        assertTrue(e[5] == 0 && h[5] == 0, "dead channel");
        for (int c = 0; c < cols; c++) {
            if (c == 5) continue;
            assertTrue(Math.abs(e[c] - h[c]) <= 1e-4 * h[c], "channel " + c + ": " + e[c] + " vs " + h[c]);
        }
    }
}
