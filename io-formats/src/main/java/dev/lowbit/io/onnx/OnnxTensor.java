package dev.lowbit.io.onnx;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A dense ONNX tensor ({@code TensorProto}) with its data as little-endian bytes, as {@code raw_data} holds them:
 * typed fields ({@code float_data}, {@code int32_data} …) are converted to this form when read, and external data is
 * a slice of the mapped data file. {@code data.byteSize()} always equals {@code dataType.byteSizeOf(elements)}.
 */
public record OnnxTensor(String name, OnnxDataType dataType, long[] dims, MemorySegment data, String docString) {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public OnnxTensor {
        dims = dims.clone();
        if (docString == null) docString = "";
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    public long elementCount() {
        return elementCount(dims);
    }

    static long elementCount(long[] dims) {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    /** A float tensor from {@code values} (copied), little-endian. */
    public static OnnxTensor ofFloats(String name, long[] dims, float[] values) {
        if (elementCount(dims) != values.length) throw new IllegalArgumentException(name + ": " + values.length + " values for dims " + Arrays.toString(dims));
        MemorySegment s = MemorySegment.ofArray(new byte[Math.multiplyExact(values.length, 4)]);
        for (int i = 0; i < values.length; i++) s.setAtIndex(F32, i, values[i]);
        return new OnnxTensor(name, OnnxDataType.FLOAT, dims, s, "");
    }

    /** A tensor of {@code type} over {@code bytes} (not copied). */
    public static OnnxTensor ofBytes(String name, OnnxDataType type, long[] dims, byte[] bytes) {
        if (type.byteSizeOf(elementCount(dims)) != bytes.length) {
            throw new IllegalArgumentException(name + ": " + bytes.length + " bytes for " + type + " " + Arrays.toString(dims));
        }
        return new OnnxTensor(name, type, dims, MemorySegment.ofArray(bytes), "");
    }

    /** The values of a FLOAT tensor. */
    public float[] floats() {
        if (dataType != OnnxDataType.FLOAT) throw new IllegalStateException(name + " is " + dataType + ", not FLOAT");
        long n = elementCount();
        if (n > Integer.MAX_VALUE - 8) throw new IllegalStateException(name + " has too many elements for an array");
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = data.getAtIndex(F32, i);
        return v;
    }

    /** The values of an INT64 tensor. */
    public long[] longs() {
        if (dataType != OnnxDataType.INT64) throw new IllegalStateException(name + " is " + dataType + ", not INT64");
        long[] v = new long[Math.toIntExact(elementCount())];
        for (int i = 0; i < v.length; i++) v[i] = data.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i);
        return v;
    }

    /** This tensor renamed / reshaped (same bytes). */
    public OnnxTensor with(String newName, long[] newDims) {
        if (elementCount(newDims) != elementCount()) throw new IllegalArgumentException(name + ": reshape changes the element count");
        return new OnnxTensor(newName, dataType, newDims, data, docString);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OnnxTensor t && name.equals(t.name) && dataType == t.dataType && Arrays.equals(dims, t.dims)
                && docString.equals(t.docString) && data.byteSize() == t.data.byteSize() && data.mismatch(t.data) == -1;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return "OnnxTensor[" + name + " " + dataType + " " + Arrays.toString(dims) + "]";
    }
}
