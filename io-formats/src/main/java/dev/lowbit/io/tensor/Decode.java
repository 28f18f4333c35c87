package dev.lowbit.io.tensor;

import dev.lowbit.kernels.FloatFormats;
import java.lang.foreign.MemorySegment;

/** Bulk decoding of tensor elements to f32 (bf16/f16 are the hot paths for checkpoint loading). */
final class Decode {
    private Decode() {}

    static void toF32(Tensor t, long from, float[] out, int off, int count) {
        MemorySegment d = t.data();
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(d, Tensor.FLOAT_LE, from * 4, out, off, count);
            case BF16 -> {
                for (int i = 0; i < count; i++) out[off + i] = FloatFormats.bf16ToF32(d.getAtIndex(Tensor.SHORT_LE, from + i));
            }
            case F16 -> {
                for (int i = 0; i < count; i++) out[off + i] = FloatFormats.f16ToF32(d.getAtIndex(Tensor.SHORT_LE, from + i));
            }
            default -> {
                for (int i = 0; i < count; i++) out[off + i] = t.getFloat(from + i);
            }
        }
    }
}
