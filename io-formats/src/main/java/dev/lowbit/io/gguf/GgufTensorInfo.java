package dev.lowbit.io.gguf;

import dev.lowbit.io.ggml.GgmlType;
import java.util.Arrays;

/**
 * One GGUF tensor info: name, dimensions in GGUF order ({@code dims[0]} is the contiguous one, so a PyTorch
 * {@code [out, in]} weight has dims {@code [in, out]}), ggml type and offset relative to the data section.
 *
 * <p>Byte size = dims[0]/blockSize × typeSize × dims[1] × … (dims[0] a multiple of the block size).
 */
public record GgufTensorInfo(String name, long[] dims, GgmlType type, long offset) {
    public GgufTensorInfo {
        dims = dims.clone();
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    public int nDims() {
        return dims.length;
    }

    /** Product of the dimensions. */
    public long elementCount() {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    /** Bytes of the tensor data (without the alignment padding that follows it). */
    public long byteSize() {
        return type.byteSizeOf(elementCount());
    }

    /** The dimensions in PyTorch (row-major) order: {@code dims} reversed. */
    public long[] torchShape() {
        long[] s = new long[dims.length];
        for (int i = 0; i < dims.length; i++) s[i] = dims[dims.length - 1 - i];
        return s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t && t.name.equals(name) && Arrays.equals(t.dims, dims)
                && t.type == type && t.offset == offset;
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + Arrays.hashCode(dims)) * 31 + type.hashCode() + Long.hashCode(offset);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(dims) + " @" + offset;
    }
}
