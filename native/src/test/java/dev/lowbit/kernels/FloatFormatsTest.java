package dev.lowbit.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The scalar references against independent ones: the JDK's binary16 conversions, and for the rounding directions a
 * brute-force "nearest representable value, ties to the even code" search over every finite code of the format.
 */
class FloatFormatsTest {

    /** Low-half patterns around every rounding boundary a 16- or 8-bit target can have, plus a few random ones. */
    static int[] probes() {
        int[] fixed = {0x0000, 0x0001, 0x07FF, 0x0800, 0x0801, 0x0FFF, 0x1000, 0x1001, 0x1FFF, 0x2000, 0x3FFF, 0x4000,
                0x7FFF, 0x8000, 0x8001, 0xBFFF, 0xC000, 0xFFFF};
        SplittableRandom rnd = new SplittableRandom(42);
        int[] all = Arrays.copyOf(fixed, fixed.length + 6);
        for (int i = fixed.length; i < all.length; i++) all[i] = rnd.nextInt(0x10000);
        return all;
    }

    @Test
    void f16ToF32MatchesJdkForAllPatterns() {
        for (int i = 0; i < 0x10000; i++) {
            int h = i;
            float ours = FloatFormats.f16ToF32((short) h);
            float jdk = Float.float16ToFloat((short) h);
            if (Float.isNaN(jdk)) {
                assertTrue(Float.isNaN(ours), () -> Integer.toHexString(h));
                // payload and sign kept exactly: the pattern widens back to itself
                assertEquals(h, ((Float.floatToRawIntBits(ours) >>> 16) & 0x8000) | 0x7C00
                        | ((Float.floatToRawIntBits(ours) >>> 13) & 0x3FF));
            } else {
                assertEquals(Float.floatToRawIntBits(jdk), Float.floatToRawIntBits(ours), Integer.toHexString(h));
            }
        }
    }

    @Test
    void f32ToF16MatchesJdkExceptNanAndRoundTripsEveryHalf() {
        for (int hi = 0; hi < 0x10000; hi++) {
            for (int lo : probes()) {
                float f = Float.intBitsToFloat(hi << 16 | lo);
                short ours = FloatFormats.f32ToF16(f);
                if (Float.isNaN(f)) {
                    assertTrue((ours & 0x7C00) == 0x7C00 && (ours & 0x3FF) != 0 && (ours & 0x200) != 0);
                    assertEquals(hi >>> 15, (ours >>> 15) & 1);
                } else {
                    assertEquals(Float.floatToFloat16(f), ours, () -> Float.toHexString(f));
                }
            }
        }
        for (int h = 0; h < 0x10000; h++) {
            if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0) continue;
            assertEquals((short) h, FloatFormats.f32ToF16(FloatFormats.f16ToF32((short) h)));
        }
    }

    @Test
    void bf16ToF32IsTheHighHalf() {
        for (int b = 0; b < 0x10000; b++) {
            assertEquals(b << 16, Float.floatToRawIntBits(FloatFormats.bf16ToF32((short) b)));
        }
    }

    /**
     * Exhaustive over the high halves, probed over the low halves: the result is the truncation or the next bf16 up
     * in magnitude, whichever is nearer, the even one on a tie; NaN stays NaN with its sign.
     */
    @Test
    void f32ToBf16IsNearestTiesEven() {
        for (int hi = 0; hi < 0x10000; hi++) {
            for (int lo : probes()) {
                int bits = hi << 16 | lo;
                float f = Float.intBitsToFloat(bits);
                int r = FloatFormats.f32ToBf16(f) & 0xFFFF;
                if (Float.isNaN(f)) {
                    assertTrue(Float.isNaN(FloatFormats.bf16ToF32((short) r)));
                    assertEquals(hi & 0x8000, r & 0x8000);
                    continue;
                }
                int down = hi, up = hi + 1;
                double x = Math.abs((double) f);
                double dDown = x - Math.abs(bf16Value(down));
                double dUp = Math.abs(bf16Value(up)) - x;
                int expected = lo == 0 || dDown < dUp ? down : dUp < dDown ? up : ((down & 1) == 0 ? down : up);
                assertEquals(expected, r, () -> Integer.toHexString(bits));
            }
        }
    }

    /** bf16 value as a double, with the pattern past the largest finite value standing for 2^128 (rounds to Inf). */
    private static double bf16Value(int b) {
        if ((b & 0x7FFF) == 0x7F80) return Math.copySign(0x1p128, (b & 0x8000) != 0 ? -1 : 1);
        return FloatFormats.bf16ToF32((short) b);
    }

    @Test
    void e4m3DecodesPerOcpTable() {
        assertEquals(448f, FloatFormats.e4m3ToF32((byte) 0x7E));
        assertEquals(-448f, FloatFormats.e4m3ToF32((byte) 0xFE));
        assertEquals(0x1p-9f, FloatFormats.e4m3ToF32((byte) 0x01));
        assertEquals(0x1p-6f, FloatFormats.e4m3ToF32((byte) 0x08));
        assertEquals(1f, FloatFormats.e4m3ToF32((byte) 0x38));
        assertEquals(1.125f, FloatFormats.e4m3ToF32((byte) 0x39));
        assertTrue(Float.isNaN(FloatFormats.e4m3ToF32((byte) 0x7F)));
        assertTrue(Float.isNaN(FloatFormats.e4m3ToF32((byte) 0xFF)));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(FloatFormats.e4m3ToF32((byte) 0x80)));
    }

    @Test
    void e5m2DecodesPerOcpTable() {
        assertEquals(57344f, FloatFormats.e5m2ToF32((byte) 0x7B));
        assertEquals(Float.POSITIVE_INFINITY, FloatFormats.e5m2ToF32((byte) 0x7C));
        assertTrue(Float.isNaN(FloatFormats.e5m2ToF32((byte) 0x7E)));
        assertEquals(0x1p-16f, FloatFormats.e5m2ToF32((byte) 0x01));
        assertEquals(0x1p-14f, FloatFormats.e5m2ToF32((byte) 0x04));
        assertEquals(1.25f, FloatFormats.e5m2ToF32((byte) 0x3D));
    }

    /** E4M3 encode: nearest finite code, ties to even mantissa, everything at or past 448 saturating to 448. */
    @Test
    void f32ToE4m3IsNearestTiesEvenSaturating() {
        double[] table = positiveTable(b -> FloatFormats.e4m3ToF32(b), 0x7E);
        for (int hi = 0; hi < 0x10000; hi++) {
            for (int lo : probes()) {
                float f = Float.intBitsToFloat(hi << 16 | lo);
                int r = FloatFormats.f32ToE4m3(f) & 0xFF;
                if (Float.isNaN(f)) {
                    assertEquals((hi & 0x8000) >>> 8 | 0x7F, r);
                    continue;
                }
                int expected = Math.abs(f) >= 448f ? 0x7E : nearest(table, Math.abs(f));
                assertEquals(expected | ((hi & 0x8000) >>> 8), r, () -> Float.toHexString(f));
            }
        }
    }

    /**
     * E5M2 encode, one rounding from f32: nearest finite code with ties to even, and Inf past the midpoint between the
     * largest finite value 57344 and 2^16. The old double rounding via binary16 fails this at e.g. 1 + 2^-3 + 2^-12.
     */
    @Test
    void f32ToE5m2IsSingleNearestTiesEven() {
        double[] table = positiveTable(b -> FloatFormats.e5m2ToF32(b), 0x7B);
        for (int hi = 0; hi < 0x10000; hi++) {
            for (int lo : probes()) {
                float f = Float.intBitsToFloat(hi << 16 | lo);
                int r = FloatFormats.f32ToE5m2(f) & 0xFF;
                if (Float.isNaN(f)) {
                    assertTrue(Float.isNaN(FloatFormats.e5m2ToF32((byte) r)));
                    assertEquals((hi & 0x8000) >>> 8, r & 0x80);
                    continue;
                }
                double a = Math.abs((double) f);
                // at 61440 the tie goes to the even code, and 0x7C (Inf) is even next to 0x7B
                int expected = a >= 61440 ? 0x7C : nearest(table, a);
                assertEquals(expected | ((hi & 0x8000) >>> 8), r, () -> Float.toHexString(f));
            }
        }
        // the double-rounding witness: just above the midpoint of 1.0 and 1.25, but rounding to that midpoint in f16
        assertEquals(0x3D, FloatFormats.f32ToE5m2(1f + 0x1p-3f + 0x1p-12f));
    }

    interface ByteDecoder {
        float decode(byte b);
    }

    private static double[] positiveTable(ByteDecoder d, int maxCode) {
        double[] t = new double[maxCode + 1];
        for (int c = 0; c <= maxCode; c++) t[c] = d.decode((byte) c);
        return t;
    }

    /** Index of the nearest table value to {@code a} (table ascending), the even index on an exact tie. */
    private static int nearest(double[] table, double a) {
        int best = 0;
        for (int c = 1; c < table.length; c++) {
            double dc = Math.abs(table[c] - a), db = Math.abs(table[best] - a);
            if (dc < db || (dc == db && (c & 1) == 0)) best = c;
        }
        return best;
    }
}
