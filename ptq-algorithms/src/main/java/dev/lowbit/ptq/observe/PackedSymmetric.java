package dev.lowbit.ptq.observe;

import dev.lowbit.kernels.linalg.Linalg;

/**
 * A symmetric n × n f64 matrix held as its upper triangle, row by row: row i's entries [i, n) start at
 * i·n − i(i−1)/2, n(n+1)/2 values in all — half of the full array. GPTQ's Hessian travels in this form from the
 * observer to the solve: the solve reads one triangle only ({@link Linalg#upperCholeskyOfInversePackedInPlace}), and
 * at a 7B model's down_proj (n = 11008) the full array is 0.97 GB of heap, the triangle 0.48 GB.
 *
 * @param n     rows = columns
 * @param upper the triangle's values (n(n+1)/2), owned by whoever holds this record
 */
public record PackedSymmetric(int n, double[] upper) {
    public PackedSymmetric {
        if (n < 0 || upper.length != Linalg.packedSize(n)) {
            throw new IllegalArgumentException("PackedSymmetric: " + upper.length + " values do not pack a " + n + " × " + n + " triangle");
        }
    }

    /** All zeros. */
    public static PackedSymmetric zeros(int n) {
        return new PackedSymmetric(n, new double[Linalg.packedSize(n)]);
    }

    /** The upper triangle (diagonal included) of a full row-major n × n array; the part below the diagonal is not read. */
    public static PackedSymmetric ofUpper(double[] full, int n) {
        if (full.length != (long) n * n) {
            throw new IllegalArgumentException("PackedSymmetric: " + full.length + " values are not a " + n + " × " + n + " matrix");
        }
        double[] p = new double[Linalg.packedSize(n)];
        for (int i = 0, at = 0; i < n; i++) {
            System.arraycopy(full, i * n + i, p, at, n - i);
            at += n - i;
        }
        return new PackedSymmetric(n, p);
    }

    /** Where row i's entries (columns i … n−1) start in {@link #upper}. */
    public int rowStart(int i) {
        return (int) ((long) i * n - (long) i * (i - 1) / 2);
    }

    /** Entry (i, j) = (j, i). */
    public double get(int i, int j) {
        return i <= j ? upper[rowStart(i) + j - i] : upper[rowStart(j) + i - j];
    }

    /** Entry (i, i). */
    public double diagonal(int i) {
        return upper[rowStart(i)];
    }

    /** The whole matrix, row-major, both triangles (a fresh n × n array). */
    public double[] toFull() {
        double[] f = new double[Math.multiplyExact(n, n)];
        for (int i = 0, at = 0; i < n; i++) {
            for (int j = i; j < n; j++, at++) {
                f[i * n + j] = upper[at];
                f[j * n + i] = upper[at];
            }
        }
        return f;
    }

    /** A copy with its own array. */
    public PackedSymmetric copy() {
        return new PackedSymmetric(n, upper.clone());
    }
}
