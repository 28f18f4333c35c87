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

    /**
     * f32 → IEEE binary16 bits, round to nearest even; overflow (|f| ≥ 65520) → ±Inf; −0 stays −0.
     *
     * <p>Equal to {@link Float#floatToFloat16} for every non-NaN input. NaN is pinned down here because the JDK's
     * result for NaN differs between its Java code and its hardware intrinsics: NaN → a quiet NaN with the input's
     * sign and the top 9 bits of its payload (what x86 {@code vcvtps2ph} and Arm {@code fcvt} produce).
     */
    public static short f32ToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int a = bits & 0x7FFFFFFF;
        int h;
        if (a > 0x7F800000) {
            h = 0x7E00 | ((a >>> 13) & 0x1FF);
        } else if (a >= (143 << 23)) {
            h = 0x7C00; // ≥ 2^16 (and Inf): beyond the largest finite half by more than half an ulp
        } else if (a < (113 << 23)) {
            // below 2^-14: subnormal half. Adding 0.5f aligns the ulp of the sum to 2^-24, the half subnormal step,
            // so the f32 addition itself rounds to nearest even; the low bits of the sum are the half's bits.
            h = Float.floatToRawIntBits(Float.intBitsToFloat(a) + 0.5f) - (126 << 23);
        } else {
            // normal: rebias the exponent and round the 13 dropped mantissa bits to nearest even; a carry out of the
            // mantissa bumps the exponent, up to 0x7C00 (Inf) for 65520 ≤ |f| < 65536
            int odd = (a >>> 13) & 1;
            h = (a + ((15 - 127) << 23) + 0xFFF + odd) >>> 13;
        }
        return (short) (sign | h);
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
     * f32 → FP8 E4M3 (fn), round to nearest even, saturating: everything of magnitude ≥ 448 (Inf included) becomes
     * ±448 (0x7E/0xFE), as compressed-tensors and ModelOpt clamp before casting; NaN → 0x7F/0xFF (keeping its sign).
     */
    public static byte f32ToE4m3(float f) {
        int sign = (Float.floatToRawIntBits(f) >>> 31) << 7;
        if (Float.isNaN(f)) return (byte) (sign | 0x7F);
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

    /**
     * f32 → FP8 E5M2, one round to nearest even straight from f32 (not via binary16, which would round twice);
     * IEEE overflow like binary16: |f| ≥ 61440 (the midpoint of 57344 and 2^16) → ±Inf; NaN → quiet NaN 0x7E/0xFE.
     */
    public static byte f32ToE5m2(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 24) & 0x80;
        int a = bits & 0x7FFFFFFF;
        int code;
        if (a > 0x7F800000) {
            code = 0x7E;
        } else if (a < (113 << 23)) {
            // below 2^-14: subnormal E5M2, step 2^-16; a·2^16 < 4 is exact, rint rounds half to even (4 = min normal)
            code = (int) Math.rint(Float.intBitsToFloat(a) * 0x1p16f);
        } else {
            // normal: rebias the exponent, round the 21 dropped mantissa bits to nearest even, saturate codes at Inf
            int odd = (a >>> 21) & 1;
            long r = ((long) a + ((15 - 127) << 23) + 0xFFFFF + odd) >>> 21;
            code = (int) Math.min(r, 0x7C);
        }
        return (byte) (sign | code);
    }

    // ------------------------------------------------------------------ OCP MX element formats without Inf/NaN

    /**
     * The OCP MX element formats that have no Inf and no NaN (every code is a finite value), by exponent and mantissa
     * width: FP4 E2M1 (max 6), FP6 E2M3 (max 7.5) and FP6 E3M2 (max 28). A code is {@code 1 + e + m} bits: sign on
     * top, then the biased exponent (bias 2^(e−1) − 1), then the mantissa; exponent 0 is subnormal.
     */
    public enum MiniFloat {
        E2M1(2, 1), E2M3(2, 3), E3M2(3, 2);

        private final int ebits, mbits, bias;
        private final float max;

        MiniFloat(int ebits, int mbits) {
            this.ebits = ebits;
            this.mbits = mbits;
            this.bias = (1 << (ebits - 1)) - 1;
            this.max = Math.scalb(2f - Math.scalb(1f, -mbits), (1 << ebits) - 1 - bias);
        }

        /** Bits per code, sign included. */
        public int bits() {
            return 1 + ebits + mbits;
        }

        /** Largest finite magnitude. */
        public float max() {
            return max;
        }

        /** Exponent of the largest normal binade: floor(log2(max)) (2 for E2M1 and E2M3, 4 for E3M2). */
        public int emax() {
            return (1 << ebits) - 1 - bias;
        }

        /** The value of {@code code} (its low {@link #bits()} bits), exactly; the negative zero code gives −0. */
        public float toF32(int code) {
            int sign = (code >>> (ebits + mbits)) & 1;
            int exp = (code >>> mbits) & ((1 << ebits) - 1);
            int mant = code & ((1 << mbits) - 1);
            float v = exp == 0
                    ? Math.scalb((float) mant, 1 - bias - mbits)
                    : Math.scalb((float) ((1 << mbits) | mant), exp - bias - mbits);
            return sign == 1 ? -v : v;
        }

        /**
         * f32 → code, round to nearest, ties to even (the code with an even mantissa), saturating: every magnitude past
         * {@link #max()} (±Inf included) becomes ±max, as the OCP MX spec's saturating conversion and every tool do.
         * −0 keeps its sign bit. NaN has no code: {@link IllegalArgumentException}.
         */
        public int fromF32(float f) {
            if (Float.isNaN(f)) throw new IllegalArgumentException(name() + " has no NaN");
            int sign = (Float.floatToRawIntBits(f) >>> 31) << (ebits + mbits);
            float a = Math.abs(f);
            int maxCode = (1 << (ebits + mbits)) - 1;
            if (a >= max) return sign | maxCode;
            // the step of a's binade (subnormals share the first normal binade's step); a/step is exact (a power-of-two
            // scaling within f32's range) and rint rounds half to even. The result q·step may carry into the next
            // binade, which the code arithmetic below absorbs (q = 2^(m+1) is the next binade's first code).
            int e = Math.max(Math.getExponent(a), 1 - bias);
            int q = (int) Math.rint(Math.scalb(a, mbits - e));
            int code;
            if (e == 1 - bias && q < (1 << mbits)) {
                code = q; // subnormal (or zero)
            } else {
                if (q == (2 << mbits)) { q = 1 << mbits; e++; }
                code = ((e + bias) << mbits) | (q - (1 << mbits));
            }
            return sign | Math.min(code, maxCode);
        }
    }

    /** E2M1 code (low 4 bits) → f32: ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}. */
    public static float e2m1ToF32(int code) {
        return MiniFloat.E2M1.toF32(code);
    }

    /** f32 → E2M1 code, round to nearest even, saturating at ±6 (see {@link MiniFloat#fromF32}). */
    public static int f32ToE2m1(float f) {
        return MiniFloat.E2M1.fromF32(f);
    }

    /**
     * OCP E8M0 scale byte → f32: 2^(e − 127) for e in 0..254 (2^−127 is an f32 subnormal, still exact); 0xFF is NaN.
     */
    public static float e8m0ToF32(int e) {
        e &= 0xFF;
        if (e == 0xFF) return Float.NaN;
        return e == 0 ? 0x1p-127f : Float.intBitsToFloat(e << 23);
    }

    /** The E8M0 byte of 2^k, k in −127..127; anything else is {@link IllegalArgumentException} (E8M0 cannot hold it). */
    public static int e8m0OfExponent(int k) {
        if (k < -127 || k > 127) throw new IllegalArgumentException("2^" + k + " is outside E8M0's 2^-127..2^127");
        return k + 127;
    }
}
