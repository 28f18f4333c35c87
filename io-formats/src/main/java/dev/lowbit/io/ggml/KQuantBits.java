package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Little-endian byte access shared by the k-quant, IQ4, TQ and MXFP4 block codecs: u8, fp16 (IEEE half, converted
 * round-to-nearest-even by {@link Float#floatToFloat16}) and the input checks every quantizer applies.
 */
final class KQuantBits {
    private KQuantBits() {}

    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Elements of a k-quant super-block (ggml's {@code QK_K}). */
    static final int QK_K = 256;

    static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    static void putU8(MemorySegment s, long off, int v) {
        s.set(ValueLayout.JAVA_BYTE, off, (byte) v);
    }

    static int u16(MemorySegment s, long off) {
        return s.get(LE_SHORT, off) & 0xFFFF;
    }

    static void putU16(MemorySegment s, long off, int v) {
        s.set(LE_SHORT, off, (short) v);
    }

    /** fp16 at {@code off} → f32 (exact). */
    static float f16(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(LE_SHORT, off));
    }

    /** Writes {@code v} as fp16 (RNE) and returns the value read back, as ggml's quantizers do. */
    static float putF16(MemorySegment s, long off, float v) {
        short h = Float.floatToFloat16(v);
        s.set(LE_SHORT, off, h);
        return Float.float16ToFloat(h);
    }

    /**
     * Checks a row slice before quantizing: {@code n} a multiple of {@code blockSize}, the slice inside {@code x},
     * {@code importance} (if given) at least {@code n} long, and every value finite. ggml has no NaN handling (a NaN
     * poisons its block's scale and the codes become undefined), so we reject non-finite input instead.
     */
    static void checkRow(String type, float[] x, int off, int n, float[] importance, int blockSize) {
        if (n < 0 || n % blockSize != 0) {
            throw new IllegalArgumentException(type + ": row length " + n + " is not a multiple of " + blockSize);
        }
        if (off < 0 || off > x.length - n) {
            throw new IndexOutOfBoundsException(type + ": row [" + off + ", " + off + "+" + n + ") outside x of length " + x.length);
        }
        if (importance != null && importance.length < n) {
            throw new IllegalArgumentException(type + ": importance has " + importance.length + " values for a row of " + n);
        }
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(x[off + i])) {
                throw new IllegalArgumentException(type + ": non-finite value " + x[off + i] + " at element " + i);
            }
        }
    }

    static void checkDequant(String type, float[] y, int yOff, int n, int blockSize) {
        if (n < 0 || n % blockSize != 0) {
            throw new IllegalArgumentException(type + ": row length " + n + " is not a multiple of " + blockSize);
        }
        if (yOff < 0 || yOff > y.length - n) {
            throw new IndexOutOfBoundsException(type + ": output [" + yOff + ", " + yOff + "+" + n + ") outside y of length " + y.length);
        }
    }
}
