package dev.lowbit.io.ggml;

import dev.lowbit.kernels.ConversionKernels;
import dev.lowbit.kernels.FloatFormats;
import dev.lowbit.kernels.Kernels;
import java.lang.foreign.MemorySegment;

/**
 * The unquantized types {@code F32}, {@code F16} and {@code BF16}: one little-endian value per element.
 * F16 and BF16 round to nearest, ties to even, as ggml's {@code GGML_FP32_TO_FP16} / {@code GGML_FP32_TO_BF16} do.
 */
final class FloatCodec implements BlockCodec {
    static final FloatCodec F32 = new FloatCodec(GgmlType.F32);
    static final FloatCodec F16 = new FloatCodec(GgmlType.F16);
    static final FloatCodec BF16 = new FloatCodec(GgmlType.BF16);

    /** The chosen bulk decoders (Vector API or scalar: the same bits; F16/BF16 rows of a 7B checkpoint are 1.7 G values). */
    private static final ConversionKernels CONVERSIONS = Kernels.conversions();

    private final GgmlType type;

    private FloatCodec(GgmlType type) {
        this.type = type;
    }

    @Override
    public GgmlType type() {
        return type;
    }

    @Override
    public void quantizeRow(float[] x, int off, int n, MemorySegment dst, long dstOff) {
        Blocks.blocks(type, n);
        switch (type) {
            case F32 -> MemorySegment.copy(x, off, dst, Blocks.FLOAT_LE, dstOff, n);
            case F16 -> {
                for (int i = 0; i < n; i++) dst.set(Blocks.SHORT_LE, dstOff + 2L * i, Float.floatToFloat16(x[off + i]));
            }
            default -> {
                for (int i = 0; i < n; i++) dst.set(Blocks.SHORT_LE, dstOff + 2L * i, FloatFormats.f32ToBf16(x[off + i]));
            }
        }
    }

    @Override
    public void dequantizeRow(MemorySegment src, long srcOff, float[] y, int off, int n) {
        Blocks.blocks(type, n);
        switch (type) {
            case F32 -> MemorySegment.copy(src, Blocks.FLOAT_LE, srcOff, y, off, n);
            case F16 -> CONVERSIONS.f16ToF32(src, srcOff, y, off, n);
            default -> CONVERSIONS.bf16ToF32(src, srcOff, y, off, n);
        }
    }
}
