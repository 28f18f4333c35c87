package dev.lowbit.io.tensor;

import java.util.Arrays;

/** A tensor shape in row-major (PyTorch) order; dimensions are {@code long} so huge tensors are addressable. */
public record Shape(long... dims) {
    public Shape {
        dims = dims.clone();
        for (long d : dims) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(dims));
        }
    }

    public static Shape of(long... dims) {
        return new Shape(dims);
    }

    public int rank() {
        return dims.length;
    }

    public long dim(int i) {
        return dims[i < 0 ? dims.length + i : i];
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    /** Number of elements; throws {@link ArithmeticException} on overflow. */
    public long elementCount() {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    /** Rows of a matrix view: product of all but the last dimension (1 for scalars). */
    public long rows() {
        long n = 1;
        for (int i = 0; i < dims.length - 1; i++) n = Math.multiplyExact(n, dims[i]);
        return n;
    }

    /** Length of the contiguous (last) dimension; 1 for scalars. */
    public long rowLength() {
        return dims.length == 0 ? 1 : dims[dims.length - 1];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
