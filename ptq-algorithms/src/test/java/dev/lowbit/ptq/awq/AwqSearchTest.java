package dev.lowbit.ptq.awq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.ptq.rtn.Rtn;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** AWQ's scale and clip searches on synthetic Linears whose inputs have a few salient channels. */
class AwqSearchTest {
    static final int ROWS = 32, COLS = 128, TOKENS = 256;
    static final QuantScheme W3 = new QuantScheme(3, 32, false);

    /** Tokens with channels 5 and 77 ten times larger than the rest, as outlier channels in LLM activations. */
    static float[] inputs(SplittableRandom rnd) {
        float[] x = new float[TOKENS * COLS];
        for (int t = 0; t < TOKENS; t++) {
            for (int c = 0; c < COLS; c++) x[t * COLS + c] = (float) (rnd.nextGaussian() * (c == 5 || c == 77 ? 10 : 1));
        }
        return x;
    }

    static float[] weights(SplittableRandom rnd) {
        float[] w = new float[ROWS * COLS];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextGaussian() * 0.05);
        return w;
    }

    /** Output error Σ_t Σ_r (x_t·(w'_r − w_r))², computed directly (not through the Gram matrix the clip search uses). */
    static double outputError(float[] x, float[] w, float[] w2) {
        double e = 0;
        for (int t = 0; t < TOKENS; t++) {
            for (int r = 0; r < ROWS; r++) {
                double d = 0;
                for (int c = 0; c < COLS; c++) d += x[t * COLS + c] * (w2[r * COLS + c] - w[r * COLS + c]);
                e += d * d;
            }
        }
        return e;
    }

    @Test
    void scaleSearchProtectsSalientChannelsAndNeverLosesToIdentity() {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] x = inputs(rnd), w = weights(rnd);
        float[] mean = new float[COLS];
        for (int t = 0; t < TOKENS; t++) for (int c = 0; c < COLS; c++) mean[c] += Math.abs(x[t * COLS + c]) / TOKENS;
        FakeQuantizer q = (v, r, c) -> Rtn.rtn("w", v, r, c, W3).dequantize();
        AwqScaleSearch.Loss loss = cands -> outputError(x, w, cands.getFirst());
        for (boolean duo : new boolean[] {false, true}) {
            AwqScaleSearch.Result res = AwqScaleSearch.search(mean, List.of(new AwqScaleSearch.Balanced("w", w, ROWS, COLS)),
                    new AwqScaleSearch.Config(20, duo, 32), q, loss);
            double best = Double.isNaN(res.alpha()) ? res.identityLoss() : res.losses()[(int) Math.round(res.alpha() * 20)];
            for (double l : res.losses()) assertTrue(best <= l);
            // salient channels with 10× inputs: scaling them up must beat plain RTN by a clear margin (here > 10%)
            assertTrue(best < 0.9 * res.identityLoss(), "duo=" + duo + " best " + best + " identity " + res.identityLoss());
            assertTrue(res.scales()[5] > 1 && res.scales()[77] > 1, "salient channels get scales > 1");
        }
        // a lossless "quantizer": every candidate scores 0, so the identity (first, ties kept) wins
        AwqScaleSearch.Result exact = AwqScaleSearch.search(mean, List.of(new AwqScaleSearch.Balanced("w", w, ROWS, COLS)),
                new AwqScaleSearch.Config(20, true, 32), (v, r, c) -> v.clone(), loss);
        assertTrue(Double.isNaN(exact.alpha()));
    }

    /** The scale formula as ALGORITHMS.md states it, recomputed here: x̄^α, clamp 1e-4, divided by √(max·min). */
    @Test
    void scaleFormula() {
        float[] mean = {0f, 0.5f, 2f, 8f};
        float[] s = AwqScaleSearch.scales(mean, null, 0.5);
        double[] raw = {1e-4, Math.sqrt(0.5), Math.sqrt(2), Math.sqrt(8)};
        double norm = Math.sqrt(raw[3] * raw[0]);
        for (int j = 0; j < 4; j++) assertEquals(raw[j] / norm, s[j], 1e-5 * raw[j] / norm);
    }

    @Test
    void clipSearchNeverIncreasesTheOutputErrorAndClipsAnOutlier() {
        SplittableRandom rnd = new SplittableRandom(9);
        float[] x = new float[TOKENS * COLS];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        float[] w = weights(rnd);
        w[3 * COLS + 10] = 1.0f; // one weight 20σ out: min/max wastes the 3-bit grid of its group on it
        AwqClipSearch.GroupRounding rounding = (v, from, to) -> {
            float[] d = Rtn.rtn("g", java.util.Arrays.copyOfRange(v, from, to), 1, to - from, new QuantScheme(3, -1, false)).dequantize();
            System.arraycopy(d, 0, v, from, to - from);
        };
        AwqClipSearch.Result r = AwqClipSearch.search(w, ROWS, COLS, 32, x, TOKENS, AwqClipSearch.Config.defaults(), rounding);
        FakeQuantizer q = (v, rr, c) -> Rtn.rtn("w", v, rr, c, W3).dequantize();
        double before = outputError(x, w, q.apply(w, ROWS, COLS));
        double after = outputError(x, w, q.apply(r.clipped(), ROWS, COLS));
        assertTrue(after <= before, "clipping raised the error: " + before + " → " + after);
        for (float ratio : r.ratios()) assertTrue(ratio >= 0.55f - 1e-6 && ratio <= 1f);
        // each group's choice is the best of the ten thresholds by the output error summed over tokens directly
        int clippedSeen = 0;
        for (int row = 0; row < ROWS; row++) {
            for (int g = 0; g < COLS / 32; g++) {
                double best = Double.POSITIVE_INFINITY;
                int bestK = -1;
                float max = 0;
                for (int c = 0; c < 32; c++) max = Math.max(max, Math.abs(w[row * COLS + g * 32 + c]));
                for (int k = 0; k < 10; k++) {
                    float m = (float) (max * (1 - k / 20.0));
                    float[] v = new float[32];
                    for (int c = 0; c < 32; c++) v[c] = Math.max(-m, Math.min(m, w[row * COLS + g * 32 + c]));
                    rounding.apply(v, 0, 32);
                    double e = 0;
                    for (int t = 0; t < TOKENS; t++) {
                        double d = 0;
                        for (int c = 0; c < 32; c++) d += x[t * COLS + g * 32 + c] * (v[c] - w[row * COLS + g * 32 + c]);
                        e += d * d;
                    }
                    if (e < best * (1 - 1e-9)) { // f64 sums in another order: a near-tie may go either way
                        best = e;
                        bestK = k;
                    }
                }
                float expected = (float) (max * (1 - bestK / 20.0)) / max;
                assertEquals(expected, r.ratios()[row * (COLS / 32) + g], 1e-6f, "row " + row + " group " + g);
                if (bestK > 0) clippedSeen++;
            }
        }
        assertTrue(clippedSeen > 0, "3-bit Gaussian groups: some clipping pays off");
    }

    /**
     * The search on the group-diagonal blocks ({@code GroupGramObserver}'s layout) must choose exactly what the search
     * on the whole Hessian chooses, as it reads only those blocks (inputs of 100 channels in groups of 32: a short last
     * group of 4; the off-block entries of H are set to garbage to show they are not read).
     */
    @Test
    void clipSearchOnGroupBlocksEqualsTheSearchOnTheWholeHessian() {
        int rows = 8, cols = 100, g = 32, tokens = 64;
        SplittableRandom rnd = new SplittableRandom(11);
        float[] x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * (i % cols == 7 ? 8 : 1));
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextGaussian() * 0.05);
        w[2 * cols + 98] = 0.9f;
        double[] h = new double[cols * cols];
        java.util.Arrays.fill(h, 1e9);
        int blocks = 3 * g * g + 4 * 4;
        var o = new dev.lowbit.ptq.observe.GroupGramObserver(cols, g);
        o.add(x, tokens, cols);
        double[] b = o.sum();
        assertEquals(blocks, b.length);
        for (int from = 0, k = 0; from < cols; from += g, k++) {
            int len = Math.min(g, cols - from);
            for (int i = 0; i < len; i++) {
                for (int j = 0; j < len; j++) h[(from + i) * cols + from + j] = b[dev.lowbit.ptq.observe.GroupGramObserver.offset(g, k) + i * len + j];
            }
        }
        AwqClipSearch.GroupRounding rounding = (v, from, to) -> {
            float[] d = Rtn.rtn("g", java.util.Arrays.copyOfRange(v, from, to), 1, to - from, new QuantScheme(3, -1, false)).dequantize();
            System.arraycopy(d, 0, v, from, to - from);
        };
        AwqClipSearch.Result whole = AwqClipSearch.search(w, rows, cols, g, h, AwqClipSearch.Config.defaults(), rounding);
        AwqClipSearch.Result blocked = AwqClipSearch.searchBlocks(w, rows, cols, g, b, AwqClipSearch.Config.defaults(), rounding);
        assertTrue(whole.clippedGroups() > 0, "the outlier's group is clipped");
        assertEquals(whole.clippedGroups(), blocked.clippedGroups());
        org.junit.jupiter.api.Assertions.assertArrayEquals(whole.ratios(), blocked.ratios());
        org.junit.jupiter.api.Assertions.assertArrayEquals(whole.clipped(), blocked.clipped());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> AwqClipSearch.searchBlocks(w, rows, cols, g, java.util.Arrays.copyOf(b, blocks - 1), AwqClipSearch.Config.defaults(), rounding));
    }
}
