package dev.lowbit.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/** The portable implementation: one element at a time through {@link FloatFormats}. */
final class ScalarConversionKernels implements ConversionKernels {
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static final ScalarConversionKernels INSTANCE = new ScalarConversionKernels();

    private ScalarConversionKernels() {}

    @Override
    public void bf16ToF32(MemorySegment src, long srcByteOffset, float[] dst, int dstOffset, int count) {
        checkBounds(src, srcByteOffset, dst.length, dstOffset, count);
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = FloatFormats.bf16ToF32(src.get(SHORT_LE, srcByteOffset + 2L * i));
        }
    }

    @Override
    public void f16ToF32(MemorySegment src, long srcByteOffset, float[] dst, int dstOffset, int count) {
        checkBounds(src, srcByteOffset, dst.length, dstOffset, count);
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = FloatFormats.f16ToF32(src.get(SHORT_LE, srcByteOffset + 2L * i));
        }
    }

    @Override
    public void f32ToBf16(float[] src, int srcOffset, MemorySegment dst, long dstByteOffset, int count) {
        checkBounds(dst, dstByteOffset, src.length, srcOffset, count);
        for (int i = 0; i < count; i++) {
            dst.set(SHORT_LE, dstByteOffset + 2L * i, FloatFormats.f32ToBf16(src[srcOffset + i]));
        }
    }

    @Override
    public void f32ToF16(float[] src, int srcOffset, MemorySegment dst, long dstByteOffset, int count) {
        checkBounds(dst, dstByteOffset, src.length, srcOffset, count);
        for (int i = 0; i < count; i++) {
            dst.set(SHORT_LE, dstByteOffset + 2L * i, FloatFormats.f32ToF16(src[srcOffset + i]));
        }
    }

    @Override
    public String name() {
        return "scalar";
    }

    /** Checks both sides up front so that no implementation writes part of a range before failing. */
    static void checkBounds(MemorySegment seg, long byteOffset, int arrayLength, int arrayOffset, int count) {
        Objects.checkFromIndexSize(arrayOffset, count, arrayLength);
        Objects.checkFromIndexSize(byteOffset, 2L * count, seg.byteSize());
    }
}
