package dev.lowbit.ptq.smooth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SmoothQuantTest {
    /** s_j = max|x_j|^α / max_r|W_rj|^(1−α) over both Linears, recomputed here; floors at 1e-5. */
    @Test
    void scalesFollowTheFormula() {
        float[] act = {4f, 0f, 1f};
        float[] w1 = {0.5f, 0f, -2f, 0.1f, 0f, 1f}; // [2, 3]
        float[] w2 = {-1f, 0f, 0.5f};               // [1, 3]
        float[] s = SmoothQuant.scales(act, List.of(w1, w2), 0.5);
        assertEquals(Math.sqrt(4) / Math.sqrt(1), s[0], 1e-6);
        assertEquals(Math.sqrt(1e-5) / Math.sqrt(1e-5), s[1], 1e-5); // dead channel and zero column stay finite
        assertEquals(Math.sqrt(1) / Math.sqrt(2), s[2], 1e-6);
        for (double bad : new double[] {0, 1, -0.1, 1.5, Double.NaN}) {
            assertThrows(IllegalArgumentException.class, () -> SmoothQuant.scales(act, List.of(w1), bad));
        }
    }

    /** The fold moves scale without changing x·Wᵀ (norm side and Linear side), up to f32 rounding. */
    @Test
    void foldPreservesTheProduct() {
        SplittableRandom rnd = new SplittableRandom(1);
        int in = 24, out = 8, prevIn = 16;
        float[] prev = new float[in * prevIn], bias = new float[in], w = new float[out * in], x = new float[prevIn], s = new float[in];
        for (int i = 0; i < prev.length; i++) prev[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < in; i++) {
            bias[i] = (float) rnd.nextGaussian();
            s[i] = (float) Math.exp(rnd.nextGaussian());
        }
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < prevIn; i++) x[i] = (float) rnd.nextGaussian();
        double[] before = chain(x, prev, bias, w, in, out, prevIn);
        ScaleFold.divideRows(prev, in, prevIn, bias, s);
        ScaleFold.multiplyColumns(w, out, in, s);
        double[] after = chain(x, prev, bias, w, in, out, prevIn);
        for (int i = 0; i < out; i++) assertEquals(before[i], after[i], 1e-4 * (1 + Math.abs(before[i])));
    }

    private static double[] chain(float[] x, float[] prev, float[] bias, float[] w, int in, int out, int prevIn) {
        double[] h = new double[in];
        for (int j = 0; j < in; j++) {
            h[j] = bias[j];
            for (int k = 0; k < prevIn; k++) h[j] += prev[j * prevIn + k] * x[k];
        }
        double[] y = new double[out];
        for (int i = 0; i < out; i++) for (int j = 0; j < in; j++) y[i] += w[i * in + j] * h[j];
        return y;
    }
}
