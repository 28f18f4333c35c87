package dev.lowbit.ptq.ternary;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.ptq.TestWeights;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import org.junit.jupiter.api.Test;

/** Binarization on real tiny-llama-code weights, against definitions written here. */
class BinaryGridTest {
    private static final int ROWS = 32, COLS = 512; // the first 32 rows of layer 0's q_proj
    private static final QuantScheme G128 = BinaryGrid.scheme(128);

    private static float[] qProj() {
        return java.util.Arrays.copyOf(TestWeights.real(TestWeights.Q_PROJ), ROWS * COLS);
    }

    private static float f16(double v) {
        return FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) v));
    }

    @Test
    void withoutSalientColumnsItIsSignTimesMeanAbsolutePerGroup() {
        float[] w = qProj();
        QuantizedTensor q = BinaryGrid.quantizeDirect("q", w, ROWS, COLS, G128, new boolean[COLS], null);
        float[] deq = q.dequantize();
        for (int r = 0; r < ROWS; r++) {
            for (int g = 0; g < COLS / 128; g++) {
                double sum = 0;
                for (int c = g * 128; c < (g + 1) * 128; c++) sum += Math.abs(w[r * COLS + c]);
                float alpha = f16(sum / 128);
                for (int c = g * 128; c < (g + 1) * 128; c++) {
                    float expected = w[r * COLS + c] >= 0 ? alpha : -alpha;
                    assertEquals(expected, deq[r * COLS + c], 0f, "[" + r + ", " + c + "]");
                }
            }
        }
        // plane 0 never holds t = 0, plane 1 holds nothing but t = 0
        for (byte b : q.planes().get(0).codes()) assertTrue(b == 0 || b == 2);
        for (byte b : q.planes().get(1).codes()) assertEquals(1, b);
    }

    @Test
    void salientColumnsGetTheResidualSignAndLowerTheError() {
        float[] w = qProj();
        boolean[] salient = BinaryGrid.salientColumns(w, ROWS, COLS, null, 51);
        // the 51 columns of largest Σ w², computed here independently
        double[] norm = new double[COLS];
        for (int i = 0; i < w.length; i++) norm[i % COLS] += (double) w[i] * w[i];
        double[] sorted = norm.clone();
        java.util.Arrays.sort(sorted);
        double cut = sorted[COLS - 51];
        for (int c = 0; c < COLS; c++) assertEquals(norm[c] >= cut, salient[c], "column " + c);
        QuantizedTensor q = BinaryGrid.quantizeDirect("q", w, ROWS, COLS, G128, salient, null);
        QuantizedTensor plain = BinaryGrid.quantizeDirect("q", w, ROWS, COLS, G128, new boolean[COLS], null);
        float[] deq = q.dequantize();
        byte[] t2 = q.planes().get(1).codes();
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < COLS; c++) {
                int i = r * COLS + c;
                assertEquals(salient[c], t2[i] != 1, "[" + r + ", " + c + "]");
                // each salient weight is the nearest of the four values ±α₁ ± α₂ of its row-group
                if (salient[c]) {
                    float a1 = q.planes().get(0).scales()[r * 4 + c / 128], a2 = q.planes().get(1).scales()[r * 4 + c / 128];
                    double best = Double.MAX_VALUE;
                    for (int u = -1; u <= 1; u += 2) for (int v = -1; v <= 1; v += 2) best = Math.min(best, Math.abs(w[i] - (a1 * u + a2 * v)));
                    assertEquals(best, Math.abs(w[i] - deq[i]), 1e-7);
                }
            }
        }
        assertTrue(error(w, deq) < 0.95 * error(w, plain.dequantize()), error(w, deq) + " vs " + error(w, plain.dequantize()));
    }

    @Test
    void errorFeedbackLowersTheOutputError() {
        float[] w = qProj();
        float[] x = TestWeights.correlatedInputs(3, 512, COLS, 10);
        double[] h = new double[COLS * COLS];
        for (int t = 0; t < 512; t++) {
            for (int i = 0; i < COLS; i++) {
                double xi = x[t * COLS + i];
                for (int j = 0; j < COLS; j++) h[i * COLS + j] += xi * x[t * COLS + j];
            }
        }
        boolean[] salient = BinaryGrid.salientColumns(w, ROWS, COLS, null, 32);
        BinaryGrid grid = new BinaryGrid("q", G128, ROWS, COLS, salient);
        Gptq.sweep("q", w, ROWS, COLS, h, new GptqConfig.Options(0.01, 128, false), grid, Linalg.kernels());
        double fed = outputError(w, grid.result().dequantize(), x);
        double free = outputError(w, BinaryGrid.quantizeDirect("q", w, ROWS, COLS, G128, salient, null).dequantize(), x);
        assertTrue(fed < 0.8 * free, "GPTQ-fed " + fed + " vs direct " + free);
        // the swept result is still two planes of signs
        for (byte b : grid.result().planes().get(0).codes()) assertTrue(b == 0 || b == 2);
    }

    private static double error(float[] w, float[] deq) {
        double e = 0;
        for (int i = 0; i < w.length; i++) e += (w[i] - deq[i]) * (double) (w[i] - deq[i]);
        return e;
    }

    private static double outputError(float[] w, float[] deq, float[] x) {
        double l = 0;
        int tokens = x.length / COLS;
        for (int r = 0; r < ROWS; r++) {
            for (int t = 0; t < tokens; t++) {
                double y = 0;
                for (int c = 0; c < COLS; c++) y += (w[r * COLS + c] - deq[r * COLS + c]) * (double) x[t * COLS + c];
                l += y * y;
            }
        }
        return l;
    }
}
