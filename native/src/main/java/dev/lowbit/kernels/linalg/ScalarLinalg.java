package dev.lowbit.kernels.linalg;

/**
 * The reference implementation: textbook loops, one thread, sums accumulated in the natural index order. Fast paths
 * are checked against it; it is also the fallback where the Vector API is absent.
 */
public final class ScalarLinalg extends RowLayoutLinalg {

    @Override
    public void gemm(int m, int n, int k, float alpha,
                     float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float s = 0f;
                for (int p = 0; p < k; p++) s += a[aOff + i * lda + p] * b[bOff + p * ldb + j];
                c[cOff + i * ldc + j] += alpha * s;
            }
        }
    }

    @Override
    public void gemmTransB(int m, int n, int k, float alpha,
                           float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float s = 0f;
                for (int p = 0; p < k; p++) s += a[aOff + i * lda + p] * b[bOff + j * ldb + p];
                c[cOff + i * ldc + j] += alpha * s;
            }
        }
    }

    @Override
    public void syrk(int rows, int n, float[] x, int xOff, int ldx, float[] h) {
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                float s = 0f;
                for (int r = 0; r < rows; r++) s += x[xOff + r * ldx + i] * x[xOff + r * ldx + j];
                h[i * n + j] += s;
                h[j * n + i] = h[i * n + j];
            }
        }
    }

    /** Cholesky on a lower triangle whose row i starts at {@code rs[i]}; nothing above the diagonal is touched. */
    @Override
    void cholesky(int n, double[] a, int[] rs) {
        for (int i = 0; i < n; i++) {
            int ri = rs[i];
            for (int j = 0; j <= i; j++) {
                int rj = rs[j];
                double s = a[ri + j];
                for (int k = 0; k < j; k++) s -= a[ri + k] * a[rj + k];
                if (i == j) {
                    if (!(s > 0)) throw notPositiveDefinite(i, s);
                    a[ri + i] = Math.sqrt(s);
                } else {
                    a[ri + j] = s / a[rj + j];
                }
            }
        }
    }

    static ArithmeticException notPositiveDefinite(int i, double pivot) {
        return new ArithmeticException("matrix is not positive definite: pivot " + i + " is " + pivot);
    }

    @Override
    void invertLower(int n, double[] l, int[] rs) {
        // row i of X = L⁻¹: X[i][j] = −(Σ_{k=j}^{i−1} L[i][k]·X[k][j]) / L[i][i]; computed left to right, in place,
        // since X[i][j] only needs L[i][k] for k ≥ j, not yet overwritten.
        for (int i = 0; i < n; i++) {
            int ri = rs[i];
            double d = l[ri + i];
            for (int j = 0; j < i; j++) {
                double s = 0;
                for (int k = j; k < i; k++) s += l[ri + k] * l[rs[k] + j];
                l[ri + j] = -s / d;
            }
            l[ri + i] = 1 / d;
        }
    }

    @Override
    public void solveLower(int n, int nrhs, double[] l, double[] b) {
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < nrhs; c++) {
                double s = b[i * nrhs + c];
                for (int k = 0; k < i; k++) s -= l[i * n + k] * b[k * nrhs + c];
                b[i * nrhs + c] = s / l[i * n + i];
            }
        }
    }

    @Override
    public void lowerGram(int n, double[] l, double[] out) {
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int k = i; k < n; k++) s += l[k * n + i] * l[k * n + j];
                out[i * n + j] = s;
                out[j * n + i] = s;
            }
        }
    }
}
