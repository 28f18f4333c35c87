package dev.lowbit.io.tensor;

import dev.lowbit.kernels.FloatFormats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A dense tensor: name, dtype, row-major shape and the bytes, usually a zero-copy slice of a memory-mapped file.
 * Decoding to f32 happens per row or per call; nothing here copies a whole checkpoint onto the heap.
 */
public record Tensor(String name, DType dtype, Shape shape, MemorySegment data) {
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble DOUBLE_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public Tensor {
        long expected = dtype.byteSizeOf(shape.elementCount());
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': " + data.byteSize() + " bytes for shape "
                    + shape + " of " + dtype.wireName() + " (expected " + expected + ")");
        }
    }

    public long elementCount() {
        return shape.elementCount();
    }

    public long byteSize() {
        return data.byteSize();
    }

    /** Element {@code i} (flat, row-major) as f32; floating and integer dtypes alike. */
    public float getFloat(long i) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(FLOAT_LE, i);
            case F16 -> FloatFormats.f16ToF32(data.getAtIndex(SHORT_LE, i));
            case BF16 -> FloatFormats.bf16ToF32(data.getAtIndex(SHORT_LE, i));
            case F64 -> (float) data.getAtIndex(DOUBLE_LE, i);
            case F8_E4M3 -> FloatFormats.e4m3ToF32(data.get(ValueLayout.JAVA_BYTE, i));
            case F8_E5M2 -> FloatFormats.e5m2ToF32(data.get(ValueLayout.JAVA_BYTE, i));
            case I64 -> data.getAtIndex(LONG_LE, i);
            case I32 -> data.getAtIndex(INT_LE, i);
            case I16 -> data.getAtIndex(SHORT_LE, i);
            case I8 -> data.get(ValueLayout.JAVA_BYTE, i);
            case U8, BOOL -> data.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
        };
    }

    /** Decodes {@code count} elements starting at flat index {@code from} into {@code out[outOffset..]}. */
    public void toFloats(long from, float[] out, int outOffset, int count) {
        dev.lowbit.io.tensor.Decode.toF32(this, from, out, outOffset, count);
    }

    /** Decodes the whole tensor to f32. For weight matrices only (bounded by one tensor, never a whole model). */
    public float[] toFloatArray() {
        long n = elementCount();
        if (n > Integer.MAX_VALUE - 8) throw new IllegalStateException("tensor '" + name + "' too large for one array");
        float[] out = new float[(int) n];
        toFloats(0, out, 0, (int) n);
        return out;
    }

    /** Row {@code r} of the matrix view ({@link Shape#rows()} × {@link Shape#rowLength()}) as f32. */
    public float[] row(long r) {
        int len = Math.toIntExact(shape.rowLength());
        float[] out = new float[len];
        toFloats(r * len, out, 0, len);
        return out;
    }

    /** Integer element {@code i} for integer dtypes (I8..I64, U8, BOOL). */
    public long getLong(long i) {
        return switch (dtype) {
            case I64 -> data.getAtIndex(LONG_LE, i);
            case I32 -> data.getAtIndex(INT_LE, i);
            case I16 -> data.getAtIndex(SHORT_LE, i);
            case I8 -> data.get(ValueLayout.JAVA_BYTE, i);
            case U8, BOOL -> data.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
            default -> throw new IllegalStateException("tensor '" + name + "' is " + dtype.wireName() + ", not an integer type");
        };
    }

    /** A heap-backed F32 tensor (tests, small outputs). */
    public static Tensor ofFloats(String name, Shape shape, float[] values) {
        MemorySegment seg = MemorySegment.ofArray(new byte[Math.multiplyExact(values.length, 4)]);
        for (int i = 0; i < values.length; i++) seg.setAtIndex(FLOAT_LE, i, values[i]);
        return new Tensor(name, DType.F32, shape, seg);
    }
}
