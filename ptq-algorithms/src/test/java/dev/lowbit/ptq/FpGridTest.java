package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.grid.FpGrid;
import dev.lowbit.ptq.grid.Grid;
import dev.lowbit.ptq.grid.FpGrid.FourOverSix;
import dev.lowbit.ptq.grid.FpGrid.MxExponent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The floating-point grids against definitions written out here: E2M1 values by table, E4M3 scales by their decoded
 * value, the three MX exponent rules by hand-worked amax values, and GPTQ's sweep against RTN on the layer-output
 * error it minimises.
 */
class FpGridTest {
    static final float[] E2M1 = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f};
    static final int ROWS = 24, COLS = 256, TOKENS = 1024;

    @Test
    void mxExponentRulesByHand() {
        // amax 5 = 1.25·4: OCP floor(log2 5) − 2 = 0; compressed-tensors keeps 4 → 0; ModelOpt ceil(log2(5/6)) = 0
        assertEquals(0, MxExponent.OCP.exponent(5f, ElementType.E2M1));
        assertEquals(0, MxExponent.COMPRESSED_TENSORS.exponent(5f, ElementType.E2M1));
        assertEquals(0, MxExponent.MODELOPT.exponent(5f, ElementType.E2M1));
        // amax 7 = 1.75·4: OCP 0 (7 saturates to 6); compressed-tensors rounds 7 up to 8 → 1; ModelOpt ceil(log2 7/6) = 1
        assertEquals(0, MxExponent.OCP.exponent(7f, ElementType.E2M1));
        assertEquals(1, MxExponent.COMPRESSED_TENSORS.exponent(7f, ElementType.E2M1));
        assertEquals(1, MxExponent.MODELOPT.exponent(7f, ElementType.E2M1));
        // just under 1.75·4 stays; exactly 6 is ModelOpt's exact case (log2 1 = 0)
        assertEquals(0, MxExponent.COMPRESSED_TENSORS.exponent(Math.nextDown(7f), ElementType.E2M1));
        assertEquals(0, MxExponent.MODELOPT.exponent(6f, ElementType.E2M1));
        assertEquals(1, MxExponent.MODELOPT.exponent(Math.nextUp(6f), ElementType.E2M1));
        // other elements: OCP offsets E4M3 8, E3M2 4, E5M2 15
        assertEquals(-8, MxExponent.OCP.exponent(1f, ElementType.E4M3));
        assertEquals(-4, MxExponent.OCP.exponent(1.5f, ElementType.E3M2));
        assertEquals(-15, MxExponent.OCP.exponent(1f, ElementType.E5M2));
        assertEquals(-127, MxExponent.MODELOPT.exponent(0f, ElementType.E2M1));
    }

    /** Every NVFP4 element is the nearest E2M1 point of x/(g·s) (ties: either neighbour), s = E4M3(amax·G/6). */
    @Test
    void rtnNvfp4IsNearestOnTheSpecGrid() {
        float[] w = TestWeights.real(TestWeights.Q_PROJ);
        int rows = 64, cols = 256;
        w = java.util.Arrays.copyOf(w, rows * cols);
        QuantizedTensor q = FpGrid.rtn("q", w, rows, cols, FloatSchemes.NVFP4, null, FourOverSix.OFF, null);
        float amax = 0;
        for (float v : w) amax = Math.max(amax, Math.abs(v));
        double bigG = 1.0 / q.globalScale();
        assertEquals(448.0 * 6 / amax, bigG, 448.0 * 6 / amax * 1e-6, "G = 448·6/amax (up to the round-trip nudge)");
        float[] deq = q.dequantize();
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / 16; b++) {
                float bmax = 0;
                for (int i = 0; i < 16; i++) bmax = Math.max(bmax, Math.abs(w[r * cols + b * 16 + i]));
                double s = q.scales()[r * (cols / 16) + b];
                double want = bmax == 0 ? 1 : e4m3Nearest(bmax * bigG / 6);
                assertEquals(want, s, 0.0, "block scale row " + r + " block " + b);
                for (int i = 0; i < 16; i++) {
                    int at = r * cols + b * 16 + i;
                    double t = Math.abs(w[at]) * bigG / s;
                    double got = Math.abs(deq[at]) * bigG / s;
                    double best = Double.MAX_VALUE;
                    for (float e : E2M1) best = Math.min(best, Math.abs(e - t));
                    assertTrue(Math.abs(Math.abs(got - t) - best) < 1e-4, "element " + at + ": " + got + " for " + t);
                }
            }
        }
    }

    /** E4M3 round to nearest by brute force over the definition's positive codes (ties to the even code). */
    static double e4m3Nearest(double v) {
        double best = 0;
        int bestCode = 0;
        for (int code = 0; code <= 0x7E; code++) {
            int e = code >>> 3, m = code & 7;
            double val = e == 0 ? m * Math.pow(2, -9) : Math.pow(2, e - 7) * (1 + m / 8.0);
            double d = Math.abs(val - v), db = Math.abs(best - v);
            if (d < db || (d == db && (code & 1) == 0)) {
                best = val;
                bestCode = code;
            }
        }
        return v >= 448 ? 448 : best;
    }

    /** MXFP4 scales are 2^(OCP k) of each 32-block's amax and codes never exceed ±6·scale. */
    @Test
    void rtnMxfp4UsesTheChosenExponentRule() {
        float[] w = java.util.Arrays.copyOf(TestWeights.real(TestWeights.DOWN_PROJ), 32 * 256);
        for (MxExponent rule : MxExponent.values()) {
            QuantizedTensor q = FpGrid.rtn("d", w, 32, 256, FloatSchemes.MXFP4, rule, FourOverSix.OFF, null);
            assertEquals(1f, q.globalScale());
            for (int r = 0; r < 32; r++) {
                for (int b = 0; b < 8; b++) {
                    float amax = 0;
                    for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(w[r * 256 + b * 32 + i]));
                    assertEquals(Math.scalb(1f, rule.exponent(amax, ElementType.E2M1)), q.scales()[r * 8 + b], rule + " row " + r);
                }
            }
        }
    }

    /**
     * Four Over Six keeps a block's 4-scale only where it is strictly better and shares plain NVFP4's global scale, so
     * no block of 16 reconstructs worse than under plain NVFP4 — checked block by block, exactly — and some do better.
     */
    @Test
    void fourOverSixNeverLosesABlockToPlainNvfp4OnRealWeights() {
        int rows = 256, cols = 256;
        float[] w = java.util.Arrays.copyOf(TestWeights.real(TestWeights.DOWN_PROJ), rows * cols);
        float[] plain = FpGrid.rtn("d", w, rows, cols, FloatSchemes.NVFP4, null, FourOverSix.OFF, null).dequantize();
        float[] four = FpGrid.rtn("d", w, rows, cols, FloatSchemes.NVFP4, null, FourOverSix.MSE, null).dequantize();
        int better = 0;
        for (int b = 0; b < rows * cols; b += 16) {
            double ep = 0, e4 = 0;
            for (int i = b; i < b + 16; i++) {
                ep += (w[i] - plain[i]) * (double) (w[i] - plain[i]);
                e4 += (w[i] - four[i]) * (double) (w[i] - four[i]);
            }
            assertTrue(e4 <= ep, "block " + b / 16 + ": " + e4 + " vs plain " + ep);
            if (e4 < ep) better++;
        }
        assertTrue(better > 0 && mse(w, four) < mse(w, plain), better + " blocks improved");
    }

    static double mse(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - b[i]) * (double) (a[i] - b[i]);
        return s / a.length;
    }

    /** GPTQ onto the FP grids: the values it pushed its error against are what the QuantizedTensor decodes to, and on
     *  correlated inputs the layer-output error beats RTN on the same grid. */
    @ParameterizedTest
    @ValueSource(strings = {"nvfp4", "nvfp4-4over6", "mxfp4", "mxfp6", "fp8"})
    void gptqOnFpGridsBeatsRtn(String which) {
        QuantScheme scheme = switch (which) {
            case "nvfp4", "nvfp4-4over6" -> FloatSchemes.NVFP4;
            case "mxfp4" -> FloatSchemes.MXFP4;
            case "mxfp6" -> FloatSchemes.mx(ElementType.E3M2);
            default -> FloatSchemes.fp8(ElementType.E4M3, true);
        };
        FourOverSix fos = which.endsWith("4over6") ? FourOverSix.WEIGHTED : FourOverSix.OFF;
        float[] w = TestWeights.gaussian(41, ROWS * COLS, 0.04f);
        double[] h = GgmlGridTest.hessian(TestWeights.correlatedInputs(42, TOKENS, COLS, 8), TOKENS, COLS);
        for (boolean actOrder : new boolean[] {false, true}) {
            FpGrid grid = new FpGrid(scheme, null, fos, ROWS, COLS);
            float[] used = new float[ROWS * COLS];
            Gptq.sweep("w", w, ROWS, COLS, h, new GptqConfig.Options(0.01, 128, actOrder), new RecordingGrid(grid, used, COLS), Linalg.kernels());
            QuantizedTensor q = grid.result("w");
            assertArrayEquals(used, q.dequantize(), which + " act-order " + actOrder);
            double[] hd = new double[COLS];
            for (int c = 0; c < COLS; c++) hd[c] = h[c * COLS + c];
            QuantizedTensor rtn = FpGrid.rtn("w", w, ROWS, COLS, scheme, null, fos, hd);
            double eG = GgmlGridTest.outputError(w, q.dequantize(), h, ROWS, COLS);
            double eR = GgmlGridTest.outputError(w, rtn.dequantize(), h, ROWS, COLS);
            assertTrue(eG < 0.9 * eR, which + ": GPTQ " + eG + " vs RTN " + eR);
        }
    }

    /** Records each value the sweep got back, to compare with what the result decodes to. */
    record RecordingGrid(FpGrid inner, float[] used, int cols) implements dev.lowbit.ptq.grid.Grid {
        public void beforeSweep(float[] w, int rows, int cols) { inner.beforeSweep(w, rows, cols); }
        public void afterDeadColumns(float[] w, int rows, int cols) { inner.afterDeadColumns(w, rows, cols); }
        public void reach(int j, int c, Sweep sweep) { inner.reach(j, c, sweep); }
        public float quantize(int r, int j, int c, float x) {
            float v = inner.quantize(r, j, c, x);
            used[r * cols + c] = v;
            return v;
        }
    }

    @Test
    void refusesWhatDoesNotFit() {
        assertThrows(IllegalArgumentException.class, () -> new FpGrid(FloatSchemes.NVFP4, null, FourOverSix.OFF, 2, 40));
        assertThrows(IllegalArgumentException.class, () -> new FpGrid(FloatSchemes.MXFP4, null, FourOverSix.MSE, 2, 64));
        float[] w = new float[2 * 32];
        w[5] = Float.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FpGrid.rtn("layers.0.q", w, 2, 32, FloatSchemes.MXFP4, null, FourOverSix.OFF, null));
        assertTrue(e.getMessage().contains("layers.0.q"), e.getMessage());
    }

    /**
     * NVFP4's global scale G = 448·6/amax comes from the weights as given; when GPTQ's compensation pushes a block past
     * that amax its E4M3 scale would exceed 448: the grid clamps it to 448 (the block saturates at the old maximum)
     * and counts it, so the pipeline can report it. Weights max 1.0, the sweep then sees the block doubled.
     */
    @Test
    void nvfp4ScaleOverflowUnderCompensationIsClampedAndCounted() {
        int rows = 1, cols = 16;
        float[] w = new float[cols];
        for (int c = 0; c < cols; c++) w[c] = (c + 1) / 16f; // amax 1.0
        FpGrid grid = new FpGrid(FloatSchemes.NVFP4, null, FourOverSix.OFF, rows, cols);
        grid.beforeSweep(w, rows, cols);
        float[] grown = new float[cols];
        for (int c = 0; c < cols; c++) grown[c] = 2 * w[c];
        Grid.Sweep view = new Grid.Sweep() {
            public int rows() { return rows; }
            public int cols() { return cols; }
            public float[] batchStart() { return grown; }
            public float current(int r, int c) { return grown[c]; }
            public double importance(int c) { return 1; }
        };
        grid.reach(0, 0, view);
        assertEquals(1, grid.clampedScales());
        // the clamped scale 448 decodes the block maximum (E2M1's 6) to 448·6/G = amax of the weights as given
        assertEquals(1.0f, grid.quantize(0, 15, 15, grown[15]), 1e-6f);
    }
}
