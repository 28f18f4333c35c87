package dev.lowbit.ptq.ternary;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import org.junit.jupiter.api.Test;

/** Binarization on real tiny-llama-code weights, against definitions written here. */
class BinaryGridTest {
    private static final int ROWS = TernaryFixture.ROWS, COLS = TernaryFixture.COLS;
    private static final QuantScheme G128 = BinaryGrid.scheme(128);

    private static float f16(double v) {
        return FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) v));
    }

    @Test
    void withoutSalientColumnsItIsSignTimesMeanAbsolutePerGroup() {
        float[] w = TernaryFixture.qProj();
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
        float[] w = TernaryFixture.qProj();
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
        double withResidual = TernaryFixture.weightError(w, deq), signsOnly = TernaryFixture.weightError(w, plain.dequantize());
        assertTrue(withResidual < 0.95 * signsOnly, withResidual + " vs " + signsOnly);
    }

    @Test
    void errorFeedbackLowersTheOutputError() {
        float[] w = TernaryFixture.qProj();
        float[] x = TernaryFixture.inputs();
        double[] h = TernaryFixture.hessian(x);
        boolean[] salient = BinaryGrid.salientColumns(w, ROWS, COLS, null, 32);
        BinaryGrid grid = new BinaryGrid("q", G128, ROWS, COLS, salient);
        Gptq.sweep("q", w, ROWS, COLS, h, new GptqConfig.Options(0.01, 128, false), grid, Linalg.kernels());
        double fed = TernaryFixture.outputError(w, grid.result().dequantize(), x);
        double free = TernaryFixture.outputError(w, BinaryGrid.quantizeDirect("q", w, ROWS, COLS, G128, salient, null).dequantize(), x);
        assertTrue(fed < 0.8 * free, "GPTQ-fed " + fed + " vs direct " + free);
        // the swept result is still two planes of signs
        for (byte b : grid.result().planes().get(0).codes()) assertTrue(b == 0 || b == 2);
    }


}
