package dev.lowbit.kernels;

/**
 * Scalar reference conversions between f32 and the narrow float formats lowbit reads and writes.
 * Every conversion to a narrower format rounds to nearest, ties to even, and preserves NaN/Inf/−0.
 * These are the references the vectorised kernels are checked against, bit pattern by bit pattern.
 */
public final class FloatFormats {
    private FloatFormats() {}

    /** IEEE binary16 bits → f32 (exact). */
    public static float f16ToF32(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) return Float.intBitsToFloat(sign);
            // subnormal half: value = mant · 2^-24, exactly representable in f32
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** f32 → IEEE binary16 bits, round to nearest even; overflow → ±Inf; NaN stays NaN (quiet). */
    public static short f32ToF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** bfloat16 bits → f32 (exact: the high half of the f32 pattern). */
    public static float bf16ToF32(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    /** f32 → bfloat16 bits, round to nearest even; NaN stays a quiet NaN with its sign. */
    public static short f32ToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int lsb = (bits >>> 16) & 1;
        int rounded = bits + 0x7FFF + lsb;
        return (short) (rounded >>> 16);
    }

    /** OCP FP8 E4M3 (fn: no Inf, 0x7F/0xFF = NaN, max 448) bits → f32. */
    public static float e4m3ToF32(byte b) {
        int v = b & 0xFF;
        int sign = v >>> 7;
        int exp = (v >>> 3) & 0xF;
        int mant = v & 0x7;
        float r;
        if (exp == 0xF && mant == 0x7) {
            r = Float.NaN;
        } else if (exp == 0) {
            r = mant * 0x1p-9f;
        } else {
            r = Math.scalb(1f + mant / 8f, exp - 7);
        }
        return sign == 1 ? -r : r;
    }

    /** OCP FP8 E5M2 bits → f32 (the top byte of an IEEE half). */
    public static float e5m2ToF32(byte b) {
        return f16ToF32((short) ((b & 0xFF) << 8));
    }

    /**
     * f32 → FP8 E4M3 (fn), round to nearest even, saturating finite overflow to ±448; NaN → 0x7F (with sign).
     */
    public static byte f32ToE4m3(float f) {
        if (Float.isNaN(f)) return (byte) 0x7F;
        int sign = (Float.floatToRawIntBits(f) >>> 31) << 7;
        float a = Math.abs(f);
        if (a >= 464f) return (byte) (sign | 0x7E); // beyond the midpoint of 448 and the (absent) 480: saturate
        // smallest normal is 2^-6; subnormal step is 2^-9
        int code;
        if (a < 0x1p-6f) {
            code = (int) Math.rint(a * 512f); // 0..8; 8 means the smallest normal, which the encoding also expresses as 8
        } else {
            int e = Math.getExponent(a);
            float m = a / Math.scalb(1f, e); // in [1,2)
            int mant = (int) Math.rint((m - 1f) * 8f);
            if (mant == 8) { mant = 0; e++; }
            code = ((e + 7) << 3) | mant;
            if (code > 0x7E) code = 0x7E;
        }
        return (byte) (sign | code);
    }

    /** f32 → FP8 E5M2, round to nearest even via binary16 then to the top byte. */
    public static byte f32ToE5m2(float f) {
        int h = f32ToF16(f) & 0xFFFF;
        if ((h & 0x7FFF) > 0x7C00) return (byte) ((h >>> 8) | 0x02);
        int lsb = (h >>> 8) & 1;
        int r = h + 0x7F + lsb;
        return (byte) (r >>> 8);
    }
}
