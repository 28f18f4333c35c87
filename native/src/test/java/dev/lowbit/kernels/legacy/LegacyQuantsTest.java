package dev.lowbit.kernels.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The Vector API Q8_0 / Q4_0 row quantizers against the scalar reference, byte for byte (the vector path promises the
 * reference's float operations lane by lane, so equality is exact), on random rows at offsets and on hostile blocks:
 * roundf's half-way cases, ±0, a single non-zero, equal magnitudes of opposite sign (the first one gives Q4_0 its
 * sign), NaN, huge and subnormal values. The reference itself is held to ggml's bytes by GgmlLegacyCodecsTest in
 * io-formats; here the reference is also checked on blocks whose codes are worked out by hand.
 */
class LegacyQuantsTest {
    private static final LegacyQuants SCALAR = LegacyKernels.scalar(), VECTOR = LegacyKernels.vector();

    @Test
    void vectorEqualsScalarOnRandomRows() {
        Random r = new Random(16);
        for (int t = 0; t < 400; t++) {
            int n = 32 * (1 + r.nextInt(12)), xo = r.nextInt(5);
            float[] x = new float[xo + n + 3];
            float scale = (float) Math.pow(10, r.nextInt(13) - 8);
            for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * scale);
            if (t % 3 == 0) x[xo + r.nextInt(n)] *= 40;  // an outlier
            same(x, xo, n);
        }
    }

    @Test
    void vectorEqualsScalarOnHostileBlocks() {
        float[][] blocks = new float[12][32];
        for (int j = 0; j < 32; j++) {
            blocks[0][j] = 127f - 2 * j + 0.5f * (j % 2);          // amax 127: id = 1, x·id = k + ½ for odd j: roundf ties
            blocks[1][j] = j % 2 == 0 ? -0.0f : 0.0f;               // signed zeros: d = 0 (Q4_0: max stays +0, d = −0)
            blocks[2][j] = j == 21 ? -3f : 0f;                      // one non-zero, negative
            blocks[3][j] = j == 5 ? 2f : j == 9 ? -2f : 0.25f * j / 32;   // equal magnitudes: the first (+2) wins
            blocks[4][j] = j == 5 ? -2f : j == 30 ? 2f : 1f;       // equal magnitudes: the first (−2) wins
            blocks[5][j] = (j % 2 == 0 ? 1 : -1) * 3e38f;           // huge: 1/d and x·id stay finite
            blocks[6][j] = Float.MIN_VALUE * (j - 16);             // subnormal: d underflows to 0
            blocks[7][j] = j == 11 ? Float.NaN : j;                 // NaN (scanned out of real inputs; same bytes anyway)
            blocks[8][j] = -8f + 0.5f * j;                          // Q4_0: max −8, d = 1, codes at x + 8.5 half steps
            blocks[9][j] = j == 31 ? 7f : -1f * (j % 7);            // the largest magnitude in the last lane
            blocks[10][j] = 1e-30f * (j % 5 - 2);                   // tiny but normal
            blocks[11][j] = (float) Math.scalb(1.0, j - 16) * (j % 3 == 0 ? -1 : 1); // spread exponents
        }
        float[] row = new float[32 * blocks.length];
        for (int b = 0; b < blocks.length; b++) System.arraycopy(blocks[b], 0, row, 32 * b, 32);
        same(row, 0, row.length);
        for (float[] b : blocks) same(b, 0, 32);
    }

    /** Codes worked out by hand from the definitions, so that the reference itself can fail here (and the vector path with it). */
    @Test
    void bothFollowTheDefinitions() {
        float[] x = new float[32];
        java.util.Arrays.fill(x, 1f);
        x[0] = -127f;
        x[1] = 2.5f;
        x[2] = -2.5f;
        x[3] = 0.49999997f;  // the largest float below ½: roundf gives 0, float floor(|x| + ½) would give 1
        for (LegacyQuants k : new LegacyQuants[] {SCALAR, VECTOR}) {
            // Q8_0: amax 127 → d = 1 (fp16 0x3C00), id = 1, qs = roundf(x)
            byte[] q8 = bytes(k, true, x, 32);
            assertEquals(0x3C00, (q8[0] & 0xFF) | (q8[1] & 0xFF) << 8, "Q8_0 d");
            assertEquals(-127, q8[2]);
            assertEquals(3, q8[3], "roundf(2.5) is 3: halfway away from zero");
            assertEquals(-3, q8[4], "roundf(-2.5) is -3");
            assertEquals(0, q8[5], "roundf(0.49999997) is 0");
            for (int j = 4; j < 32; j++) assertEquals(1, q8[2 + j]);
            // Q4_0: max is the signed −127 → d = −127/−8 = 15.875 (fp16 0x4BF0); −127·id + 8.5 = 0.5 → 0, the ±2.5 and 1s → 8
            byte[] q4 = bytes(k, false, x, 32);
            assertEquals(0x4BF0, (q4[0] & 0xFF) | (q4[1] & 0xFF) << 8, "Q4_0 d");
            assertEquals(0x80, q4[2] & 0xFF, "element 0 in the low nibble, element 16 in the high one");
            for (int j = 1; j < 16; j++) assertEquals(0x88, q4[2 + j] & 0xFF, "byte " + j);
        }
        assertThrows(IllegalArgumentException.class, () -> VECTOR.quantizeQ8_0(x, 0, 31, MemorySegment.ofArray(new byte[34]), 0));
    }

    /** The start-up choice gives the reference's bytes before and after it switches to the vector path. */
    @Test
    void chosenGivesTheSameBytesBeforeAndAfterItWarmsUp() throws InterruptedException {
        float[] x = new float[32 * 40];
        Random r = new Random(5);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        byte[] want8 = bytes(SCALAR, true, x, x.length), want4 = bytes(SCALAR, false, x, x.length);
        LegacyQuants chosen = LegacyKernels.chosen();
        // past the scalar-first budget (2^26 elements), so that the warm-up starts
        float[] big = new float[1 << 20];
        MemorySegment sink = MemorySegment.ofArray(new byte[(1 << 20) / 32 * LegacyQuants.Q8_0_BYTES]);
        for (int i = 0; i < 64; i++) chosen.quantizeQ8_0(big, 0, big.length, sink, 0);
        for (int i = 0; i < 64; i++) chosen.quantizeQ4_0(big, 0, big.length, sink, 0);
        long deadline = System.nanoTime() + 20_000_000_000L;
        do {
            assertArrayEquals(want8, bytes(chosen, true, x, x.length));
            assertArrayEquals(want4, bytes(chosen, false, x, x.length));
            Thread.sleep(20);
        } while (chosen instanceof WarmingLegacyQuants w && !(w.warm() && w.warmQ4_0()) && System.nanoTime() < deadline);
        assertArrayEquals(want8, bytes(chosen, true, x, x.length));
        assertArrayEquals(want4, bytes(chosen, false, x, x.length));
    }

    private static void same(float[] x, int xo, int n) {
        for (boolean q8 : new boolean[] {true, false}) {
            int blockBytes = q8 ? LegacyQuants.Q8_0_BYTES : LegacyQuants.Q4_0_BYTES;
            int size = 3 + n / 32 * blockBytes;
            MemorySegment a = MemorySegment.ofArray(new byte[size]), b = MemorySegment.ofArray(new byte[size]);
            if (q8) {
                SCALAR.quantizeQ8_0(x, xo, n, a, 3);
                VECTOR.quantizeQ8_0(x, xo, n, b, 3);
            } else {
                SCALAR.quantizeQ4_0(x, xo, n, a, 3);
                VECTOR.quantizeQ4_0(x, xo, n, b, 3);
            }
            assertArrayEquals(a.toArray(ValueLayout.JAVA_BYTE), b.toArray(ValueLayout.JAVA_BYTE), (q8 ? "Q8_0" : "Q4_0") + " n " + n);
        }
    }

    private static byte[] bytes(LegacyQuants k, boolean q8, float[] x, int n) {
        MemorySegment s = MemorySegment.ofArray(new byte[n / 32 * (q8 ? LegacyQuants.Q8_0_BYTES : LegacyQuants.Q4_0_BYTES)]);
        if (q8) k.quantizeQ8_0(x, 0, n, s, 0);
        else k.quantizeQ4_0(x, 0, n, s, 0);
        return s.toArray(ValueLayout.JAVA_BYTE);
    }
}
