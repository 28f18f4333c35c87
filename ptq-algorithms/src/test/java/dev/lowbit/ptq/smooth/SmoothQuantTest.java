package dev.lowbit.ptq.smooth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    /**
     * The α search on one Linear under W8A8 static: the test's own loss (int8 per-channel weights and an int8 per-tensor
     * input, both symmetric, written out here) recomputed for every grid point; the chosen α is the grid's argmin. The
     * input has two outlier channels, so that migration matters: the choice beats the grid's weakest end.
     */
    @Test
    void searchPicksTheGridPointOfLeastLoss() {
        SplittableRandom rnd = new SplittableRandom(3);
        int tokens = 64, in = 16, out = 8;
        float[] x = new float[tokens * in], w = new float[out * in], act = new float[in];
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < in; j++) {
                x[t * in + j] = (float) (rnd.nextGaussian() * (j == 2 || j == 11 ? 40 : 1));
                act[j] = Math.max(act[j], Math.abs(x[t * in + j]));
            }
        }
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        double[] grid = SmoothQuant.defaultGrid();
        assertEquals(19, grid.length);
        assertEquals(0.05, grid[0], 1e-12);
        assertEquals(0.95, grid[18], 1e-12);
        SmoothQuant.Choice c = SmoothQuant.search(act, List.of(w), grid, sc -> w8a8Loss(x, w, sc, tokens, in, out));
        int argmin = 0;
        double[] own = new double[grid.length];
        for (int i = 0; i < grid.length; i++) {
            own[i] = w8a8Loss(x, w, SmoothQuant.scales(act, List.of(w), grid[i]), tokens, in, out);
            if (own[i] < own[argmin]) argmin = i;
        }
        assertEquals(grid[argmin], c.alpha(), 0, java.util.Arrays.toString(own));
        for (int i = 0; i < grid.length; i++) assertEquals(own[i], c.losses()[i], 1e-12 * own[i]);
        assertTrue(own[argmin] < 0.5 * own[0], "migration should pay with outlier channels: " + java.util.Arrays.toString(own));
        // a non-finite loss is never chosen; ties keep the earlier point; no finite loss at all is an error
        assertThrows(IllegalStateException.class, () -> SmoothQuant.search(act, List.of(w), new double[] {0.2, 0.4, 0.6}, sc -> Double.NaN));
        double[] fake = {Double.NaN, 2, 1, 1};
        int[] call = {0};
        SmoothQuant.Choice tie = SmoothQuant.search(act, List.of(w), new double[] {0.2, 0.4, 0.6, 0.8}, sc -> fake[call[0]++]);
        assertEquals(0.6, tie.alpha(), 0);
    }

    /** mean over tokens and outputs of (Q_a(x ÷ s)·s · (Q_w(W·diag(s))·diag(s)⁻¹)ᵀ − x·Wᵀ)², int8 symmetric, in f64. */
    private static double w8a8Loss(float[] x, float[] w, float[] s, int tokens, int in, int out) {
        double amax = 0;
        for (int t = 0; t < tokens; t++) for (int j = 0; j < in; j++) amax = Math.max(amax, Math.abs(x[t * in + j] / s[j]));
        double as = amax / 127.5; // the writer's input_scale
        double[] wq = new double[w.length];
        for (int r = 0; r < out; r++) {
            double m = 0;
            for (int j = 0; j < in; j++) m = Math.max(m, Math.abs(w[r * in + j] * s[j]));
            double ws = m / 127;
            for (int j = 0; j < in; j++) wq[r * in + j] = Math.rint(w[r * in + j] * s[j] / ws) * ws / s[j];
        }
        double sum = 0;
        for (int t = 0; t < tokens; t++) {
            double[] xq = new double[in];
            for (int j = 0; j < in; j++) xq[j] = Math.max(-128, Math.min(127, Math.rint(x[t * in + j] / s[j] / as))) * as * s[j];
            for (int r = 0; r < out; r++) {
                double a = 0, b = 0;
                for (int j = 0; j < in; j++) {
                    a += xq[j] * wq[r * in + j];
                    b += (double) x[t * in + j] * w[r * in + j];
                }
                sum += (a - b) * (a - b);
            }
        }
        return sum / ((double) tokens * out);
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
