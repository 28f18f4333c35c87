package dev.lowbit.io.export;

import dev.lowbit.io.ggml.GgmlType;

import java.util.Arrays;

/**
 * One tensor of an {@link ExportPlan}: GGUF name, GGUF dims and the ggml type it will be written in.
 * {@code fallbackFrom} is the type the mix wanted when the row length forced a fallback (as llama.cpp's
 * {@code tensor_type_fallback} does), else {@code null}.
 */
public record PlannedTensor(String name, long[] dims, GgmlType type, GgmlType fallbackFrom) {
    public PlannedTensor {
        dims = dims.clone();
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    /** Whether the row length ({@code dims[0]}) is a whole number of the type's blocks. */
    public boolean fitsBlocks() {
        return dims[0] % type.blockSize() == 0;
    }

    /** Bytes of tensor data in this type (unpadded). */
    public long byteSize() {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return type.byteSizeOf(n);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PlannedTensor p && name.equals(p.name) && Arrays.equals(dims, p.dims) && type == p.type
                && fallbackFrom == p.fallbackFrom;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + type.hashCode();
    }

    @Override
    public String toString() {
        return name + Arrays.toString(dims) + " " + type + (fallbackFrom == null ? "" : " (fallback from " + fallbackFrom + ")");
    }
}
