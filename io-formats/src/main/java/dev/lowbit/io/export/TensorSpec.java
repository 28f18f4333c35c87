package dev.lowbit.io.export;

import dev.lowbit.io.ggml.GgmlType;

import java.util.Arrays;

/**
 * A tensor as it will appear in a GGUF file before its type is chosen: GGUF name, GGUF dims ({@code dims[0]} is the
 * contiguous row length, i.e. the reversed PyTorch shape) and the type it has when left unquantized.
 */
public record TensorSpec(String name, long[] dims, GgmlType sourceType) {
    public TensorSpec {
        if (dims.length < 1 || dims.length > 4) throw new IllegalArgumentException(name + ": GGUF allows 1 to 4 dims");
        dims = dims.clone();
    }

    /** A tensor stored as F32 when not quantized (how the converter writes 1-D tensors and {@code --outtype f32}). */
    public static TensorSpec f32(String name, long... dims) {
        return new TensorSpec(name, dims, GgmlType.F32);
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    /** Row length: {@code dims[0]}, the number of contiguous elements a block must divide. */
    public long rowLength() {
        return dims[0];
    }

    /** Number of dims that matter, as {@code ggml_n_dims}: trailing 1s do not count, minimum 1. */
    public int nDims() {
        int n = dims.length;
        while (n > 1 && dims[n - 1] == 1) n--;
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && name.equals(t.name) && Arrays.equals(dims, t.dims) && sourceType == t.sourceType;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return name + Arrays.toString(dims) + " " + sourceType;
    }
}
