package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.gptq.GptqResult;
import dev.lowbit.ptq.observe.HessianObserver;
import dev.lowbit.ptq.scheme.ClipSearch;
import dev.lowbit.ptq.scheme.GroupQuantizer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The MSE clip search ({@code --mse-clip}, QuaRot's {@code w_clip}: the GPTQ reference's {@code Quantizer(mse=True)},
 * norm 2.4, grid 100, maxshrink 0.8) checked against a brute force written here from the definition: per (row,
 * group), every shrink p = 1 − i/100, i = 0 … 79, of the min/max range, scored by Σ |ŵ − w|^2.4.
 */
class ClipSearchTest {
    private static final int ROWS = 48, COLS = 512;

    /** Rows of a real q_proj plus hostile rows: one huge outlier, all equal, all zero, one-sided. */
    private static float[] weights() {
        float[] real = TestWeights.real(TestWeights.Q_PROJ);
        float[] w = Arrays.copyOf(real, ROWS * COLS);
        w[42 * COLS + 7] = 40 * Math.abs(w[42 * COLS + 7]) + 1f;
        Arrays.fill(w, 43 * COLS, 44 * COLS, 0.25f);
        Arrays.fill(w, 44 * COLS, 45 * COLS, 0f);
        for (int c = 0; c < COLS; c++) w[45 * COLS + c] = Math.abs(w[45 * COLS + c]);
        float[] g = TestWeights.gaussian(5, 2 * COLS, 0.02f); // the shape weights take after a Hadamard rotation
        System.arraycopy(g, 0, w, 46 * COLS, 2 * COLS);
        return w;
    }

    @Test
    void searchedParametersMinimiseTheStatedErrorOverTheGrid() {
        float[] w = weights();
        List<QuantScheme> schemes = List.of(new QuantScheme(4, -1, false), new QuantScheme(4, -1, true),
                new QuantScheme(3, 128, false), new QuantScheme(4, 64, true));
        int shrunk = 0;
        for (QuantScheme s : schemes) {
            int gs = s.groupSize() == -1 ? COLS : s.groupSize();
            for (int g = 0; g < COLS / gs; g++) {
                float[] scale = new float[ROWS], zero = new float[ROWS];
                GroupQuantizer.findParams(w, COLS, ROWS, g * gs, (g + 1) * gs, s, ClipSearch.REFERENCE, scale, zero);
                for (int r = 0; r < ROWS; r++) {
                    double[] best = bruteForce(w, r, g * gs, (g + 1) * gs, s);
                    String where = s + " row " + r + " group " + g;
                    // the brute force keeps the first minimum, as the reference does: the same candidate, bit for bit
                    assertEquals((float) best[1], scale[r], 0f, where);
                    assertEquals((float) best[2], zero[r], 0f, where);
                    assertEquals(best[0], error(w, r, g * gs, (g + 1) * gs, scale[r], zero[r], s), 0.0, where);
                    if (best[3] > 0) shrunk++;
                }
            }
        }
        // the search must actually move: most real rows find a shrunk range better than min/max at 3-4 bits
        assertTrue(shrunk > ROWS, "only " + shrunk + " (row, group) pairs chose a shrunk range");
    }

    @Test
    void gptqWithClipSearchIsBitExactAndStartsFromTheSearchedScales() {
        int rows = 128; // the first rows of a real q_proj: enough for the sweep, fast in CI
        float[] w = Arrays.copyOf(TestWeights.real(TestWeights.Q_PROJ), rows * COLS);
        HessianObserver obs = new HessianObserver(COLS);
        obs.add(TestWeights.correlatedInputs(3, 256, COLS, 10), 256, COLS);
        double[] h = obs.hessian();
        QuantScheme s = new QuantScheme(4, -1, false);
        GptqConfig cfg = new GptqConfig(s, 0.01, 128, false, false, ClipSearch.REFERENCE, null);
        GptqResult a = Gptq.quantize("q", w, rows, COLS, h, cfg);
        GptqResult b = Gptq.quantize("q", w, rows, COLS, h, cfg);
        QuantizedTensor qa = a.quantized(), qb = b.quantized();
        assertArrayEquals(qa.codes(), qb.codes());
        assertArrayEquals(qa.scales(), qb.scales());
        assertArrayEquals(qa.zeros(), qb.zeros());
        assertEquals(a.loss(), b.loss(), 0.0);
        // per channel without act-order the row parameters are fixed once from W before the sweep (gptq.py)
        float[] scale = new float[rows], zero = new float[rows];
        GroupQuantizer.findParams(w, COLS, rows, 0, COLS, s, ClipSearch.REFERENCE, scale, zero);
        assertArrayEquals(scale, qa.scales());
        for (int r = 0; r < rows; r++) assertEquals((int) zero[r], qa.zeros()[r]);
        float[] plainScale = new float[rows], plainZero = new float[rows];
        GroupQuantizer.findParams(w, COLS, rows, 0, COLS, s, null, plainScale, plainZero);
        assertTrue(!Arrays.equals(plainScale, qa.scales()), "the clip search changed nothing");
    }

    /** {error, scale, zero, i} of the first grid point with the least Σ |ŵ − w|^2.4, every step in f32 as the reference. */
    private static double[] bruteForce(float[] w, int r, int from, int to, QuantScheme s) {
        float maxq = (1 << s.bits()) - 1;
        float lo = 0, hi = 0;
        for (int c = from; c < to; c++) {
            lo = Math.min(lo, w[r * COLS + c]);
            hi = Math.max(hi, w[r * COLS + c]);
        }
        if (s.symmetric()) {
            hi = Math.max(hi, -lo);
            if (lo < 0) lo = -hi;
        }
        if (lo == 0 && hi == 0) {
            lo = -1;
            hi = 1;
        }
        double[] best = {Double.POSITIVE_INFINITY, 0, 0, -1};
        for (int i = 0; i < 80; i++) {
            float p = (float) (1 - i / 100.0);
            float lo1 = p * lo, hi1 = p * hi;
            float sc = (hi1 - lo1) / maxq;
            float z = s.symmetric() ? (maxq + 1) / 2 : RtnTest.roundHalfEven(-lo1 / sc);
            double e = error(w, r, from, to, sc, z, s);
            if (e < best[0]) best = new double[] {e, sc, z, i};
        }
        return best;
    }

    private static double error(float[] w, int r, int from, int to, float scale, float zero, QuantScheme s) {
        float maxq = (1 << s.bits()) - 1;
        double e = 0;
        for (int c = from; c < to; c++) {
            float v = w[r * COLS + c];
            float q = Math.max(0f, Math.min(RtnTest.roundHalfEven(v / scale) + zero, maxq));
            e += Math.pow(Math.abs(scale * (q - zero) - v), 2.4);
        }
        return e;
    }
}
