package dev.lowbit.ptq.ternary;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.grid.Grid;
import org.junit.jupiter.api.Test;

/** PB-LLM on real tiny-llama-code weights, against definitions written here. */
class PbllmGridTest {
    private static final int ROWS = TernaryFixture.ROWS, COLS = TernaryFixture.COLS;
    private static final QuantScheme G128 = PbllmGrid.scheme(128);

    private static float f16(double v) {
        return FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) v));
    }

    /** No error feedback: every weight rounded once, so each value can be checked against the definition. */
    private static QuantizedTensor direct(float[] w, byte[] mask) {
        PbllmGrid g = new PbllmGrid("q", G128, w, ROWS, COLS, mask);
        Grid.Sweep s = new Grid.Sweep() {
            public int rows() {
                return ROWS;
            }

            public int cols() {
                return COLS;
            }

            public float[] batchStart() {
                return w;
            }

            public float current(int r, int c) {
                return w[r * COLS + c];
            }

            public double importance(int c) {
                return 1;
            }
        };
        for (int c = 0; c < COLS; c++) {
            g.reach(c, c, s);
            for (int r = 0; r < ROWS; r++) g.quantize(r, c, c, w[r * COLS + c]);
        }
        return g.result();
    }

    @Test
    void salientWeightsKeepEightBitsAndTheRestAreSignTimesMeanAbsolute() {
        float[] w = TernaryFixture.qProj();
        int count = ROWS * COLS / 10;
        byte[] mask = PbllmGrid.salientMask(w, ROWS, COLS, null, count);
        // the 10% of weights of largest w², computed here independently; bf16-born weights tie at the cut, and the
        // lower indices of the tied ones win
        float[] mag = new float[w.length];
        for (int i = 0; i < w.length; i++) mag[i] = Math.abs(w[i]);
        float[] sorted = mag.clone();
        java.util.Arrays.sort(sorted);
        float cut = sorted[w.length - count];
        int above = 0;
        for (float m : mag) if (m > cut) above++;
        int tiedLeft = count - above;
        for (int i = 0; i < w.length; i++) {
            int expected = mag[i] > cut ? 1 : mag[i] == cut && tiedLeft > 0 ? 1 : 0;
            if (mag[i] == cut && tiedLeft > 0) tiedLeft--;
            assertEquals(expected, mask[i], "element " + i);
        }
        QuantizedTensor q = direct(w, mask);
        float[] deq = q.dequantize();
        for (int r = 0; r < ROWS; r++) {
            double max = 0;
            for (int c = 0; c < COLS; c++) if (mask[r * COLS + c] != 0) max = Math.max(max, mag[r * COLS + c]);
            float s = f16(max / 127);
            for (int g = 0; g < COLS / 128; g++) {
                double sum = 0;
                int n = 0;
                for (int c = g * 128; c < (g + 1) * 128; c++) {
                    if (mask[r * COLS + c] == 0) {
                        sum += mag[r * COLS + c];
                        n++;
                    }
                }
                float alpha = f16(sum / n);
                for (int c = g * 128; c < (g + 1) * 128; c++) {
                    int i = r * COLS + c;
                    float expected = mask[i] != 0 ? s * (float) Math.max(-127, Math.min(127, Math.rint(w[i] / s)))
                            : w[i] >= 0 ? alpha : -alpha;
                    assertEquals(expected, deq[i], 0f, "[" + r + ", " + c + "]");
                }
            }
        }
        // 8 bits on the salient tenth: the weight error falls far below binarizing everything
        double partial = TernaryFixture.weightError(w, deq);
        double binary = TernaryFixture.weightError(w, direct(w, new byte[w.length]).dequantize());
        assertTrue(partial < 0.5 * binary, partial + " vs all binary " + binary);
        // the plane holds signs only, code 0 under the salient weights
        byte[] codes = q.planes().getFirst().codes();
        for (int i = 0; i < codes.length; i++) assertTrue(mask[i] != 0 ? codes[i] == 0 : codes[i] == 0 || codes[i] == 2);
    }

    @Test
    void errorFeedbackLowersTheOutputError() {
        float[] w = TernaryFixture.qProj();
        float[] x = TernaryFixture.inputs();
        double[] h = TernaryFixture.hessian(x);
        byte[] mask = PbllmGrid.salientMask(w, ROWS, COLS, null, ROWS * COLS / 10);
        PbllmGrid grid = new PbllmGrid("q", G128, w, ROWS, COLS, mask);
        Gptq.sweep("q", w, ROWS, COLS, h, new GptqConfig.Options(0.01, 128, false), grid, Linalg.kernels());
        double fed = TernaryFixture.outputError(w, grid.result().dequantize(), x);
        double free = TernaryFixture.outputError(w, direct(w, mask).dequantize(), x);
        assertTrue(fed < 0.8 * free, "GPTQ-fed " + fed + " vs direct " + free);
        // salient codes stay in −127..127 even where the compensated weight outgrew the row's original maximum
        for (byte b : grid.result().salient().codes()) assertTrue(b != -128);
    }

    @Test
    void hessianSalienceDividesByTheInverseCholeskyDiagonal() {
        // w²/d² ranks a small weight on a column with small d above a larger one
        float[] w = {1f, 0.5f, 0.1f, 0.2f};
        double[] d = {1, 0.1, 1, 1};
        assertEquals(java.util.List.of((byte) 0, (byte) 1, (byte) 0, (byte) 0), toList(PbllmGrid.salientMask(w, 1, 4, d, 1)));
        assertEquals(java.util.List.of((byte) 1, (byte) 0, (byte) 0, (byte) 0), toList(PbllmGrid.salientMask(w, 1, 4, null, 1)));
        assertThrows(IllegalArgumentException.class, () -> new PbllmGrid("x", PbllmGrid.scheme(3), w, 1, 4, new byte[4]));
    }

    private static java.util.List<Byte> toList(byte[] b) {
        java.util.List<Byte> l = new java.util.ArrayList<>();
        for (byte x : b) l.add(x);
        return l;
    }
}
