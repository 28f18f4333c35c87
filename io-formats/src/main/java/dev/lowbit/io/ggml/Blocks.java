package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Little-endian field access and the C rounding helpers shared by the block codecs. */
final class Blocks {
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Blocks() {}

    /** Number of blocks in a row of {@code n} elements; rejects a partial block. */
    static int blocks(GgmlType type, int n) {
        if (n < 0 || n % type.blockSize() != 0) {
            throw new IllegalArgumentException(type + ": row length " + n + " is not a multiple of " + type.blockSize());
        }
        return n / type.blockSize();
    }

    /** Reads the fp16 at byte {@code at} as f32 (exact). */
    static float getF16(MemorySegment s, long at) {
        return Float.float16ToFloat(s.get(SHORT_LE, at));
    }

    /** Writes {@code v} as fp16, round to nearest even (ggml's {@code GGML_FP32_TO_FP16}). */
    static void putF16(MemorySegment s, long at, float v) {
        s.set(SHORT_LE, at, Float.floatToFloat16(v));
    }

    /** C {@code roundf}: nearest integer, halfway cases away from zero (exact in double for every float). */
    static float roundf(float v) {
        return dev.lowbit.kernels.legacy.LegacyQuants.roundf(v);
    }

    /** Largest-magnitude element of {@code x[from..from+len)} with its sign; the first one wins ties. */
    static float signedAbsMax(float[] x, int from, int len) {
        return dev.lowbit.kernels.legacy.LegacyQuants.signedAbsMax(x, from, len);
    }
}
