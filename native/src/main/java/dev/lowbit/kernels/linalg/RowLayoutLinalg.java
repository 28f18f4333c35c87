package dev.lowbit.kernels.linalg;

/**
 * The full and packed forms of the Cholesky factorization and the triangular inverse, over one kernel each that takes
 * the lower triangle's row starts ({@link Linalg#fullRows} or {@link Linalg#packedRows}): the same operations in the
 * same order whatever the layout, so the two forms agree bit for bit.
 */
abstract sealed class RowLayoutLinalg implements LinalgKernels permits ScalarLinalg, PanamaLinalg {
    /** Cholesky in place on the lower triangle whose row i starts at {@code rs[i]}; nothing above it is read or written. */
    abstract void cholesky(int n, double[] a, int[] rs);

    /** The in-place inverse of the lower triangle whose row i starts at {@code rs[i]}. */
    abstract void invertLower(int n, double[] l, int[] rs);

    @Override
    public final void cholesky(int n, double[] a) {
        cholesky(n, a, Linalg.fullRows(n));
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) a[i * n + j] = 0;
        }
    }

    @Override
    public final void choleskyPacked(int n, double[] a) {
        cholesky(n, a, Linalg.packedRows(n));
    }

    @Override
    public final void invertLower(int n, double[] l) {
        invertLower(n, l, Linalg.fullRows(n));
    }

    @Override
    public final void invertLowerPacked(int n, double[] l) {
        invertLower(n, l, Linalg.packedRows(n));
    }
}
