package dev.lowbit.io.tensor;

import dev.lowbit.kernels.ConversionKernels;
import dev.lowbit.kernels.Kernels;
import java.lang.foreign.MemorySegment;

/**
 * Bulk decoding of tensor elements to f32. bf16 and f16 are the hot paths of checkpoint loading and go through the
 * SIMD kernels chosen once by {@link Kernels}; the rest decode element by element.
 */
final class Decode {
    private static final ConversionKernels KERNELS = Kernels.conversions();

    private Decode() {}

    static void toF32(Tensor t, long from, float[] out, int off, int count) {
        MemorySegment d = t.data();
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(d, Tensor.FLOAT_LE, from * 4, out, off, count);
            case BF16 -> KERNELS.bf16ToF32(d, from * 2, out, off, count);
            case F16 -> KERNELS.f16ToF32(d, from * 2, out, off, count);
            default -> {
                for (int i = 0; i < count; i++) out[off + i] = t.getFloat(from + i);
            }
        }
    }
}
