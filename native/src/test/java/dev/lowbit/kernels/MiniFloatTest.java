package dev.lowbit.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.kernels.FloatFormats.MiniFloat;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * The OCP MX element formats (E2M1, E2M3, E3M2) and E8M0 against the OCP MX v1.0 definitions written out here
 * independently: every code decoded, and f32 → code checked against a brute-force "nearest value, ties to the even
 * code" search over every code of the format, on every f32 exponent/high-mantissa pattern (the probes of
 * {@link FloatFormatsTest} cover each pattern's rounding boundaries: exact ties and one ulp either side).
 */
class MiniFloatTest {
    record Spec(int ebits, int mbits, int bias, double max) {}

    /** OCP MX v1.0 §5.3.3: E2M1 bias 1 max 6; E2M3 bias 1 max 7.5; E3M2 bias 3 max 28; no Inf, no NaN. */
    static Spec spec(MiniFloat f) {
        return switch (f) {
            case E2M1 -> new Spec(2, 1, 1, 6.0);
            case E2M3 -> new Spec(2, 3, 1, 7.5);
            case E3M2 -> new Spec(3, 2, 3, 28.0);
        };
    }

    /** The value of a code from the definition: subnormal 2^(1−bias)·0.M, normal 2^(E−bias)·1.M. */
    static double value(Spec s, int code) {
        int m = code & ((1 << s.mbits) - 1);
        int e = (code >>> s.mbits) & ((1 << s.ebits) - 1);
        boolean neg = ((code >>> (s.ebits + s.mbits)) & 1) == 1;
        double v = e == 0 ? Math.pow(2, 1 - s.bias) * m / (1 << s.mbits) : Math.pow(2, e - s.bias) * (1 + (double) m / (1 << s.mbits));
        return neg ? -v : v;
    }

    @ParameterizedTest
    @EnumSource(MiniFloat.class)
    void decodesEveryCodePerDefinition(MiniFloat f) {
        Spec s = spec(f);
        assertEquals(s.max, f.max());
        for (int code = 0; code < 1 << f.bits(); code++) {
            double want = value(s, code);
            float got = f.toF32(code);
            assertEquals(want, got, 0.0, f + " code " + code);
            // −0 for the negative zero code
            if (code == 1 << (f.bits() - 1)) assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(got));
        }
        // the code table round trips (both zeros keep their sign)
        for (int code = 0; code < 1 << f.bits(); code++) assertEquals(code, f.fromF32(f.toF32(code)), f + " code " + code);
    }

    @ParameterizedTest
    @EnumSource(MiniFloat.class)
    void encodeIsNearestTiesEvenSaturating(MiniFloat f) {
        Spec s = spec(f);
        int half = 1 << (f.bits() - 1);
        double[] table = new double[half];
        for (int c = 0; c < half; c++) table[c] = value(s, c);
        int[] probes = FloatFormatsTest.probes();
        for (int hi = 0; hi < 0x10000; hi++) {
            for (int lo : probes) {
                float x = Float.intBitsToFloat(hi << 16 | lo);
                if (Float.isNaN(x)) {
                    assertThrows(IllegalArgumentException.class, () -> f.fromF32(x));
                    continue;
                }
                double a = Math.abs((double) x);
                int expected = a >= s.max ? half - 1 : nearestEven(table, a);
                int sign = (hi & 0x8000) != 0 ? half : 0;
                int got = f.fromF32(x);
                assertEquals(expected | sign, got, () -> f + " " + Float.toHexString(x));
            }
        }
    }

    /** Index of the nearest table value (ascending), the even index (even mantissa) on an exact tie. */
    private static int nearestEven(double[] table, double a) {
        int best = 0;
        for (int c = 1; c < table.length; c++) {
            double dc = Math.abs(table[c] - a), db = Math.abs(table[best] - a);
            if (dc < db || (dc == db && (c & 1) == 0)) best = c;
        }
        return best;
    }

    @Test
    void e2m1Shortcuts() {
        float[] values = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f};
        for (int c = 0; c < 8; c++) {
            assertEquals(values[c], FloatFormats.e2m1ToF32(c));
            assertEquals(-values[c], FloatFormats.e2m1ToF32(c | 8));
        }
        assertEquals(7, FloatFormats.f32ToE2m1(Float.POSITIVE_INFINITY));
        assertEquals(15, FloatFormats.f32ToE2m1(-1e30f));
        assertEquals(4, FloatFormats.f32ToE2m1(2.5f)); // tie 2 | 3 → 2 (even code 4)
        assertEquals(6, FloatFormats.f32ToE2m1(5f));   // tie 4 | 6 → 4 (even code 6)
    }

    @Test
    void e8m0IsAPowerOfTwoPerCodeAndFfIsNaN() {
        for (int e = 0; e < 255; e++) assertEquals(Math.pow(2, e - 127), FloatFormats.e8m0ToF32(e), 0.0, "e = " + e);
        assertTrue(Float.isNaN(FloatFormats.e8m0ToF32(0xFF)));
        for (int k = -127; k <= 127; k++) assertEquals(Math.pow(2, k), FloatFormats.e8m0ToF32(FloatFormats.e8m0OfExponent(k)), 0.0);
        assertThrows(IllegalArgumentException.class, () -> FloatFormats.e8m0OfExponent(128));
        assertThrows(IllegalArgumentException.class, () -> FloatFormats.e8m0OfExponent(-128));
    }
}
