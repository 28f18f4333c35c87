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

    /**
     * Number of elements; throws {@link ArithmeticException} on overflow. A shape with a zero dimension has none,
     * however large the others (a file may declare {@code [838, 6144880354009284608, 0, 193273528320]}: fuzzing).
     */
    public long elementCount() {
        return product(dims.length);
    }

    /** Rows of a matrix view: product of all but the last dimension (1 for scalars; 0 when one of them is 0). */
    public long rows() {
        return product(Math.max(0, dims.length - 1));
    }

    private long product(int count) {
        for (int i = 0; i < count; i++) if (dims[i] == 0) return 0;
        long n = 1;
        for (int i = 0; i < count; i++) n = Math.multiplyExact(n, dims[i]);
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
