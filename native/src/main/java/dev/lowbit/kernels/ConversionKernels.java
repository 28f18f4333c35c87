package dev.lowbit.kernels;

import java.lang.foreign.MemorySegment;

/**
 * Bulk conversions between little-endian 16-bit floats in a {@link MemorySegment} and {@code float[]}.
 *
 * <p>Every implementation gives bit-for-bit the results of the scalar references in {@link FloatFormats}
 * (decoding is exact; encoding rounds to nearest, ties to even). Segment offsets are in bytes and need not be
 * aligned. Obtain the implementation chosen for this JVM from {@link Kernels#conversions()}.
 */
public interface ConversionKernels {

    /** Decodes {@code count} bfloat16 values at {@code src[srcByteOffset..]} into {@code dst[dstOffset..]}. */
    void bf16ToF32(MemorySegment src, long srcByteOffset, float[] dst, int dstOffset, int count);

    /** Decodes {@code count} IEEE binary16 values at {@code src[srcByteOffset..]} into {@code dst[dstOffset..]}. */
    void f16ToF32(MemorySegment src, long srcByteOffset, float[] dst, int dstOffset, int count);

    /** Encodes {@code count} floats from {@code src[srcOffset..]} as bfloat16 at {@code dst[dstByteOffset..]}. */
    void f32ToBf16(float[] src, int srcOffset, MemorySegment dst, long dstByteOffset, int count);

    /** Encodes {@code count} floats from {@code src[srcOffset..]} as IEEE binary16 at {@code dst[dstByteOffset..]}. */
    void f32ToF16(float[] src, int srcOffset, MemorySegment dst, long dstByteOffset, int count);

    /** A short name for logs and benchmark reports, e.g. {@code scalar} or {@code panama(256-bit)}. */
    String name();
}
