package dev.lowbit.kernels.legacy;

import java.lang.foreign.MemorySegment;

/**
 * ggml's reference row quantizers of the legacy 32-element block types, byte for byte. A row of {@code n} floats
 * ({@code n} a multiple of 32) becomes {@code n/32} blocks at {@code dst[off ..]}; implementations keep no state, so one
 * instance serves every thread.
 *
 * <ul>
 *   <li>{@code Q8_0} ({@code quantize_row_q8_0_ref}): block {@code fp16 d; i8 qs[32]}; amax = max|x|, d = amax/127,
 *       id = d ≠ 0 ? 1/d : 0 (from the f32 d), qs[j] = roundf(x[j]·id), C {@code roundf} rounding halfway cases away
 *       from zero.</li>
 *   <li>{@code Q4_0} ({@code quantize_row_q4_0_ref}): block {@code fp16 d; u8 qs[16]}; max = the element of largest
 *       magnitude with its sign (the first one wins ties; 0 when every element is ±0), d = max/−8, id as above,
 *       q = min(15, (int) (x·id + 8.5)) — a product, then a sum, no fused multiply-add; the low nibble of qs[j] holds
 *       element j, the high nibble element j+16.</li>
 * </ul>
 */
public interface LegacyQuants {
    int QK = 32;
    /** Bytes of one block. */
    int Q8_0_BYTES = 34, Q4_0_BYTES = 18;

    void quantizeQ8_0(float[] x, int xo, int n, MemorySegment dst, long off);

    void quantizeQ4_0(float[] x, int xo, int n, MemorySegment dst, long off);

    /** C {@code roundf}: nearest integer, halfway cases away from zero (exact in double for every float). */
    static float roundf(float v) {
        double a = Math.floor(Math.abs((double) v) + 0.5);
        return (float) Math.copySign(a, v);
    }

    /** Largest-magnitude element of {@code x[from..from+len)} with its sign; the first one wins ties (0 when all are ±0). */
    static float signedAbsMax(float[] x, int from, int len) {
        float amax = 0f, max = 0f;
        for (int j = 0; j < len; j++) {
            float v = x[from + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    /** Blocks in a row of {@code n}, refusing a partial block. */
    static int blocks(int n) {
        if (n % QK != 0) throw new IllegalArgumentException("row length " + n + " is not a multiple of " + QK);
        return n / QK;
    }
}
