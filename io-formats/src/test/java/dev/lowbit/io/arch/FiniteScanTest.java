package dev.lowbit.io.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The word-at-a-time scan against a plain element-by-element reference written here from each format's definition
 * (decode, then {@code !isFinite}; E4M3 has no infinity and one NaN code per sign, E5M2 IEEE-like), on every float
 * dtype, lengths that do not fill the last word, non-finite values at every lane position and at the ends, and the
 * finite values closest to them (largest finite, an exponent one below all-ones) that must not be flagged.
 */
class FiniteScanTest {
    private static final DType[] TYPES = {DType.F32, DType.F16, DType.BF16, DType.F64, DType.F8_E4M3, DType.F8_E5M2};

    @Test
    void equalsTheElementwiseReference() {
        Random r = new Random(2);
        for (DType d : TYPES) {
            int w = width(d);
            for (int t = 0; t < 400; t++) {
                int n = 1 + r.nextInt(70);
                byte[] b = new byte[n * w];
                for (int i = 0; i < n; i++) put(b, i, w, nearMiss(d, r));
                int hits = r.nextInt(3);
                for (int h = 0; h < hits; h++) put(b, r.nextInt(n), w, nonFinite(d, r));
                Tensor tensor = new Tensor("w", d, Shape.of(n), MemorySegment.ofArray(b));
                assertEquals(reference(d, b, n), FiniteScan.firstNonFinite(tensor), d + " n=" + n);
            }
        }
    }

    private static int width(DType d) {
        return switch (d) {
            case F64 -> 8;
            case F32 -> 4;
            case F16, BF16 -> 2;
            default -> 1;
        };
    }

    /** Finite bit patterns, many of them next to the non-finite ones: all-but-one exponent bits, top mantissa bits. */
    private static long nearMiss(DType d, Random r) {
        long m = r.nextLong();
        return switch (d) {
            case F32 -> r.nextBoolean() ? Float.floatToRawIntBits(Float.MAX_VALUE) ^ (m & 0x8000_0000L) : (m & ~0x0080_0000L);
            case F64 -> r.nextBoolean() ? Double.doubleToRawLongBits(-Double.MAX_VALUE) : (m & ~0x0010_0000_0000_0000L);
            case F16 -> r.nextBoolean() ? 0x7bff | (m & 0x8000) : (m & ~0x0400L);
            case BF16 -> r.nextBoolean() ? 0x7f7f | (m & 0x8000) : (m & ~0x0080L);
            case F8_E4M3 -> r.nextBoolean() ? 0x7e | (m & 0x80) : (m & ~0x01L);
            default -> r.nextBoolean() ? 0x7b | (m & 0x80) : (m & ~0x04L);
        };
    }

    private static long nonFinite(DType d, Random r) {
        long m = r.nextLong();
        return switch (d) {
            case F32 -> 0x7f80_0000L | (m & 0x807f_ffffL);
            case F64 -> 0x7ff0_0000_0000_0000L | (m & 0x800f_ffff_ffff_ffffL);
            case F16 -> 0x7c00 | (m & 0x83ff);
            case BF16 -> 0x7f80 | (m & 0x807f);
            case F8_E4M3 -> 0x7f | (m & 0x80);
            default -> 0x7c | (m & 0x83);
        };
    }

    private static void put(byte[] b, int i, int w, long v) {
        for (int k = 0; k < w; k++) b[i * w + k] = (byte) (v >>> (8 * k));
    }

    private static long get(byte[] b, int i, int w) {
        long v = 0;
        for (int k = 0; k < w; k++) v |= (b[i * w + k] & 0xFFL) << (8 * k);
        return v;
    }

    private static long reference(DType d, byte[] b, int n) {
        for (int i = 0; i < n; i++) {
            long v = get(b, i, width(d));
            boolean finite = switch (d) {
                case F32 -> Float.isFinite(Float.intBitsToFloat((int) v));
                case F64 -> Double.isFinite(Double.longBitsToDouble(v));
                case F16 -> Float.isFinite(Float.float16ToFloat((short) v));
                case BF16 -> Float.isFinite(Float.intBitsToFloat((int) (v << 16)));
                case F8_E4M3 -> (v & 0x7f) != 0x7f;
                default -> (v & 0x7c) != 0x7c;
            };
            if (!finite) return i;
        }
        return -1;
    }
}
