package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.ptq.rtn.Rtn;
import dev.lowbit.ptq.scheme.ClipSearch;
import java.util.List;
import org.junit.jupiter.api.Test;

class RtnTest {
    private static final List<QuantScheme> SCHEMES = List.of(
            new QuantScheme(4, 128, false), new QuantScheme(3, 128, false), new QuantScheme(2, 64, false),
            new QuantScheme(4, 128, true), new QuantScheme(4, -1, false), new QuantScheme(3, -1, true),
            new QuantScheme(8, 32, true), new QuantScheme(1, 16, false));

    /** Half-to-even rounding written out, independent of Math.rint. */
    static float roundHalfEven(float x) {
        double f = Math.floor(x);
        double frac = x - f; // exact for |x| < 2^23
        if (frac > 0.5) return (float) (f + 1);
        if (frac < 0.5) return (float) f;
        return (float) (((long) f) % 2 == 0 ? f : f + 1);
    }

    /**
     * The README's definition, written the obvious way: one (row, group) at a time, every step in f32.
     * Returns {codes, scales, zeros} packed into the record for comparison.
     */
    static QuantizedTensor reference(float[] w, int rows, int cols, QuantScheme s) {
        int gs = s.groupSize() == -1 ? cols : s.groupSize();
        int groups = cols / gs;
        float maxq = (float) (Math.pow(2, s.bits()) - 1);
        byte[] codes = new byte[rows * cols];
        float[] scales = new float[rows * groups];
        int[] zeros = new int[rows * groups];
        int[] gIdx = new int[cols];
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < groups; g++) {
                float lo = 0, hi = 0;
                for (int c = g * gs; c < (g + 1) * gs; c++) {
                    if (w[r * cols + c] < lo) lo = w[r * cols + c];
                    if (w[r * cols + c] > hi) hi = w[r * cols + c];
                }
                if (s.symmetric()) {
                    if (-lo > hi) hi = -lo;
                    if (lo < 0) lo = -hi;
                }
                if (lo == 0 && hi == 0) { lo = -1; hi = 1; }
                float scale = (hi - lo) / maxq;
                float zero = s.symmetric() ? (maxq + 1) / 2 : roundHalfEven(-lo / scale);
                scales[r * groups + g] = scale;
                zeros[r * groups + g] = (int) zero;
                for (int c = g * gs; c < (g + 1) * gs; c++) {
                    float q = roundHalfEven(w[r * cols + c] / scale) + zero;
                    if (q < 0) q = 0;
                    if (q > maxq) q = maxq;
                    codes[r * cols + c] = (byte) (int) q;
                    gIdx[c] = g;
                }
            }
        }
        return new QuantizedTensor("ref", rows, cols, s, codes, scales, zeros, gIdx);
    }

    static void assertSame(QuantizedTensor want, QuantizedTensor got) {
        assertArrayEquals(want.codes(), got.codes(), "codes");
        assertArrayEquals(want.scales(), got.scales(), "scales"); // assertArrayEquals on float[] compares bit patterns via Float.equals
        assertArrayEquals(want.zeros(), got.zeros(), "zeros");
        assertArrayEquals(want.gIdx(), got.gIdx(), "g_idx");
        assertArrayEquals(want.dequantize(), got.dequantize(), "dequantized");
    }

    @Test
    void bitIdenticalToReferenceOnRandomWeights() {
        int rows = 37, cols = 256;
        float[] w = TestWeights.gaussian(7, rows * cols, 0.02f);
        w[5] = 0; w[300] = -0f; // zeros and a negative zero
        for (QuantScheme s : SCHEMES) assertSame(reference(w, rows, cols, s), Rtn.rtn("w", w, rows, cols, s));
    }

    @Test
    void bitIdenticalToReferenceOnRealWeights() {
        float[] w = TestWeights.real(TestWeights.Q_PROJ);
        assertEquals(512 * 512, w.length);
        for (QuantScheme s : SCHEMES) assertSame(reference(w, 512, 512, s), Rtn.rtn(TestWeights.Q_PROJ, w, 512, 512, s));
    }

    /**
     * The in-place fake quantization AWQ's scale search runs is the reference's codes dequantized, scale·(q − zero) in
     * f32 written out here, bit for bit (and so RTN's own dequantization), on random weights with zeros, real q_proj
     * weights and an all-zero row, for every integer scheme; the input array becomes the result.
     */
    @Test
    void inPlaceFakeQuantizationIsTheReferenceDequantized() {
        int rows = 37, cols = 256;
        float[] random = TestWeights.gaussian(11, rows * cols, 0.02f);
        random[5] = 0; random[300] = -0f;
        java.util.Arrays.fill(random, 2 * cols, 3 * cols, 0f);
        float[] real = TestWeights.real(TestWeights.Q_PROJ);
        for (float[] w : List.of(random, real)) {
            int r = w == real ? 512 : rows, c = w == real ? 512 : cols;
            for (QuantScheme s : SCHEMES) {
                assertTrue(Rtn.fakeQuantizesInPlace(s));
                QuantizedTensor ref = reference(w, r, c, s);
                int gs = s.groupSize() == -1 ? c : s.groupSize(), groups = c / gs;
                float[] want = new float[w.length];
                for (int i = 0; i < w.length; i++) {
                    int g = (i / c) * groups + (i % c) / gs;
                    want[i] = ref.scales()[g] * (float) ((ref.codes()[i] & 0xFF) - ref.zeros()[g]);
                }
                float[] got = w.clone();
                Rtn.fakeQuantizeInPlace("w", got, r, c, s);
                assertArrayEquals(want, got, s + ": bit patterns (Float.equals)");
                assertArrayEquals(Rtn.rtn("w", w, r, c, s).dequantize(), got, s + ": RTN's own dequantization");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Rtn.fakeQuantizeInPlace("w", new float[] {Float.NaN, 1}, 1, 2,
                new QuantScheme(4, -1, false)));
    }

    @Test
    void halfwayCasesRoundToEven() {
        // one row, per channel, 2 bits: lo = −1.5, hi = 1.5 → scale = 1, zero = rint(1.5) = 2 (even)
        QuantScheme s = new QuantScheme(2, -1, false);
        QuantizedTensor q = Rtn.rtn("t", new float[] {-1.5f, 1.5f, 0.5f, -0.5f, 2.5f - 1f}, 1, 5, s);
        assertEquals(1f, q.scales()[0]);
        assertEquals(2, q.zeros()[0]);
        // w/scale + zero: −1.5→rint(−1.5)=−2 → 0; 1.5→2+2=4 → clamp 3; 0.5→0+2=2; −0.5→−0+2=2; 1.5→3
        assertArrayEquals(new byte[] {0, 3, 2, 2, 3}, q.codes());
    }

    @Test
    void symmetricKeepsTheReferenceQuirkForNonNegativeGroups() {
        // all weights ≥ 0: the reference leaves lo = 0, so scale = hi/maxq (not 2·hi/maxq), zero = (maxq+1)/2
        QuantScheme s = new QuantScheme(4, -1, true);
        QuantizedTensor q = Rtn.rtn("t", new float[] {0f, 0.75f, 1.5f}, 1, 3, s);
        assertEquals(1.5f / 15, q.scales()[0]);
        assertEquals(8, q.zeros()[0]);
        QuantizedTensor neg = Rtn.rtn("t", new float[] {-0.5f, 0.75f, 1.5f}, 1, 3, s);
        assertEquals(3f / 15, neg.scales()[0]);
    }

    @Test
    void codesAndZerosInRangeAndErrorWithinOneStep() {
        float[] w = TestWeights.real(TestWeights.Q_PROJ);
        for (QuantScheme s : SCHEMES) {
            QuantizedTensor q = Rtn.rtn("q", w, 512, 512, s);
            for (int i = 0; i < q.codes().length; i++) assertTrue((q.codes()[i] & 0xFF) <= s.maxq());
            for (int z : q.zeros()) assertTrue(z >= 0 && z <= s.maxq(), "zero " + z);
            float[] d = q.dequantize();
            for (int r = 0; r < 512; r++) {
                for (int c = 0; c < 512; c++) {
                    float scale = q.scales()[r * q.groups() + q.gIdx()[c]];
                    // rounding leaves ≤ scale/2; clamping at the ends (zero itself rounded) can add up to another half
                    // step, and f32 rounding of scale·(q − zero) a few ulps: one step with 1e-5 relative slack
                    assertTrue(Math.abs(d[r * 512 + c] - w[r * 512 + c]) <= scale * (1 + 1e-5f), s + " at " + r + "," + c);
                }
            }
        }
    }

    @Test
    void allZeroRowsQuantizeToExactZeros() {
        float[] w = new float[4 * 64];
        for (int c = 0; c < 64; c++) w[64 + c] = 0.01f * (c - 30); // row 1 non-zero, rows 0, 2, 3 all zero
        for (QuantScheme s : SCHEMES.subList(0, 4)) {
            QuantScheme s64 = new QuantScheme(s.bits(), s.groupSize() == -1 ? -1 : 32, s.symmetric());
            QuantizedTensor q = Rtn.rtn("z", w, 4, 64, s64);
            float[] d = q.dequantize();
            for (int c = 0; c < 64; c++) {
                assertEquals(0f, d[c]);
                assertEquals(0f, d[128 + c]);
            }
            assertEquals(2f / s64.maxq(), q.scales()[0]); // lo = −1, hi = 1
        }
    }

    @Test
    void rejectsNonFiniteWeightsAndBadShapes() {
        float[] w = TestWeights.gaussian(1, 8 * 128, 1f);
        w[3 * 128 + 17] = Float.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Rtn.rtn("blk.q", w, 8, 128, new QuantScheme(4, 128, false)));
        assertTrue(e.getMessage().contains("'blk.q'") && e.getMessage().contains("[3, 17]") && e.getMessage().contains("NaN"), e.getMessage());
        w[3 * 128 + 17] = Float.NEGATIVE_INFINITY;
        assertThrows(IllegalArgumentException.class, () -> Rtn.rtn("blk.q", w, 8, 128, new QuantScheme(4, 128, false)));
        float[] ok = TestWeights.gaussian(1, 8 * 200, 1f);
        IllegalArgumentException g = assertThrows(IllegalArgumentException.class, () -> Rtn.rtn("blk.q", ok, 8, 200, new QuantScheme(4, 128, false)));
        assertTrue(g.getMessage().contains("group size 128 does not divide in_features 200"), g.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Rtn.rtn("blk.q", ok, 8, 201, new QuantScheme(4, -1, false)));
    }

    @Test
    void clipSearchNeverIncreasesTheSearchedError() {
        float[] w = TestWeights.real(TestWeights.Q_PROJ);
        QuantScheme s = new QuantScheme(3, 128, false);
        QuantizedTensor plain = Rtn.rtn("q", w, 512, 512, s);
        QuantizedTensor clipped = Rtn.rtn("q", w, 512, 512, s, ClipSearch.REFERENCE);
        // p = 1 (i = 0) is the plain min/max candidate, so per group the searched error Σ|ŵ − w|^2.4 can only fall
        double ep = norm(plain.dequantize(), w, 2.4), ec = norm(clipped.dequantize(), w, 2.4);
        assertTrue(ec <= ep, ec + " > " + ep);
        assertTrue(ec < 0.99 * ep, "clipping should help on real weights: " + ec + " vs " + ep);
        for (int i = 0; i < plain.scales().length; i++) assertTrue(clipped.scales()[i] <= plain.scales()[i] * (1 + 1e-6f));
    }

    private static double norm(float[] a, float[] b, double p) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += Math.pow(Math.abs(a[i] - b[i]), p);
        return s;
    }
}
