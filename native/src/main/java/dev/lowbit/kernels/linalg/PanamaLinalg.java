package dev.lowbit.kernels.linalg;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API implementation. Every inner loop is written in the broadcast-FMA ("axpy") form, c[i][j..j+L] =
 * fma(a[i][p], b[p][j..j+L], c[i][j..j+L]) over p in ascending order, with a scalar {@link Math#fma} tail: no lane
 * reductions, whose order the Vector API leaves unspecified. So each output element is one fused multiply-add chain
 * in a fixed order, bit-identical whichever path (4-row block, single row, vector body, scalar tail), thread or JIT
 * tier computes it.
 */
final class PanamaLinalg extends RowLayoutLinalg {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final int FL = F.length();
    private static final int DL = D.length();
    /** GEMM blocking: a KC-deep slice of B, NC columns wide (256 × 256 f32 = 256 KiB, an L2's worth). */
    private static final int KC = 256;
    private static final int NC = 256;
    /** Cholesky block size (panel width). */
    private static final int NB = 64;
    /** Cholesky trailing-update column chunk: four f64 vectors. */
    private static final int CHUNK = 4 * DL;

    static LinalgKernels createIfUseful() {
        return F.vectorBitSize() >= 256 ? new PanamaLinalg() : null;
    }

    static String describe() {
        return F.vectorBitSize() + "-bit vectors (" + FL + " f32, " + DL + " f64 lanes), " + Parallel.THREADS + " threads";
    }

    // ---------------------------------------------------------------- f32 GEMM / SYRK

    @Override
    public void gemm(int m, int n, int k, float alpha,
                     float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        if (m == 0 || n == 0 || k == 0) return;
        int parts = Math.min(Parallel.partsFor(2.0 * m * n * k), Math.max(1, m / 4));
        Parallel.run(parts, p -> gemmRows(Parallel.split(m, parts, p), Parallel.split(m, parts, p + 1), n, k, alpha,
                a, aOff, lda, 1, b, bOff, ldb, c, cOff, ldc, false));
    }

    @Override
    public void gemmTransB(int m, int n, int k, float alpha,
                           float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        if (m == 0 || n == 0 || k == 0) return;
        float[] bt = new float[k * n]; // Bᵀ, k × n, so the product runs in the broadcast form
        for (int j = 0; j < n; j++) {
            for (int p = 0; p < k; p++) bt[p * n + j] = b[bOff + j * ldb + p];
        }
        gemm(m, n, k, alpha, a, aOff, lda, bt, 0, n, c, cOff, ldc);
    }

    @Override
    public void syrk(int rows, int n, float[] x, int xOff, int ldx, float[] h) {
        if (n == 0 || rows == 0) return;
        float[] t = lowerGramF32(rows, n, x, xOff, ldx);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                float v = h[i * n + j] + t[i * n + j];
                h[i * n + j] = v;
                h[j * n + i] = v;
            }
        }
    }

    @Override
    public void syrkAccumulate(int rows, int n, float[] x, int xOff, int ldx, double[] h) {
        if (n == 0 || rows == 0) return;
        float[] t = lowerGramF32(rows, n, x, xOff, ldx);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double v = h[i * n + j] + t[i * n + j];
                h[i * n + j] = v;
                h[j * n + i] = v;
            }
        }
    }

    /** The lower triangle (plus a few entries above it) of Xᵀ·X in f32, in a fresh n × n array. */
    private static float[] lowerGramF32(int rows, int n, float[] x, int xOff, int ldx) {
        float[] t = new float[n * n];
        // T = Xᵀ·X, lower triangle: A = Xᵀ is read in place (a(i, p) = x[p][i]), B = X
        int parts = Math.min(Parallel.partsFor(1.0 * n * n * rows), Math.max(1, n / 8));
        int[] bounds = Parallel.splitByCost(n, parts, i -> i + 1);
        Parallel.run(parts, p -> gemmRows(bounds[p], bounds[p + 1], n, rows, 1f,
                x, xOff, 1, ldx, x, xOff, ldx, t, 0, n, true));
        return t;
    }

    /**
     * Rows [iFrom, iTo) of C += alpha·A·B with a(i, p) = a[aOff + i·ars + p·acs]; with {@code lower}, only columns
     * j &lt; (first row of the 4-row block) + 4 are computed, which covers the lower triangle.
     */
    private static void gemmRows(int iFrom, int iTo, int n, int k, float alpha,
                                 float[] a, int aOff, int ars, int acs, float[] b, int bOff, int ldb,
                                 float[] c, int cOff, int ldc, boolean lower) {
        for (int kb = 0; kb < k; kb += KC) {
            int ke = Math.min(k, kb + KC);
            for (int jb = 0; jb < n; jb += NC) {
                int je = Math.min(n, jb + NC);
                int i = iFrom;
                for (; i + 4 <= iTo; i += 4) {
                    int jEnd = lower ? Math.min(je, i + 4) : je;
                    if (jEnd > jb) rows4(i, jb, jEnd, kb, ke, alpha, a, aOff, ars, acs, b, bOff, ldb, c, cOff, ldc);
                }
                for (; i < iTo; i++) {
                    int jEnd = lower ? Math.min(je, i + 1) : je;
                    if (jEnd > jb) rows1(i, jb, jEnd, kb, ke, alpha, a, aOff, ars, acs, b, bOff, ldb, c, cOff, ldc);
                }
            }
        }
    }

    private static void rows4(int i, int jFrom, int jTo, int kb, int ke, float alpha,
                              float[] a, int aOff, int ars, int acs, float[] b, int bOff, int ldb,
                              float[] c, int cOff, int ldc) {
        int c0 = cOff + i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        int a0 = aOff + i * ars, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars;
        int j = jFrom;
        for (; j + 2 * FL <= jTo; j += 2 * FL) { // body: 4 rows × 2 vectors in 8 accumulators
            FloatVector x00 = FloatVector.fromArray(F, c, c0 + j), x01 = FloatVector.fromArray(F, c, c0 + j + FL);
            FloatVector x10 = FloatVector.fromArray(F, c, c1 + j), x11 = FloatVector.fromArray(F, c, c1 + j + FL);
            FloatVector x20 = FloatVector.fromArray(F, c, c2 + j), x21 = FloatVector.fromArray(F, c, c2 + j + FL);
            FloatVector x30 = FloatVector.fromArray(F, c, c3 + j), x31 = FloatVector.fromArray(F, c, c3 + j + FL);
            for (int p = kb; p < ke; p++) {
                int bp = bOff + p * ldb + j;
                FloatVector b0 = FloatVector.fromArray(F, b, bp), b1 = FloatVector.fromArray(F, b, bp + FL);
                int ap = p * acs;
                FloatVector v = FloatVector.broadcast(F, alpha * a[a0 + ap]);
                x00 = v.fma(b0, x00); x01 = v.fma(b1, x01);
                v = FloatVector.broadcast(F, alpha * a[a1 + ap]);
                x10 = v.fma(b0, x10); x11 = v.fma(b1, x11);
                v = FloatVector.broadcast(F, alpha * a[a2 + ap]);
                x20 = v.fma(b0, x20); x21 = v.fma(b1, x21);
                v = FloatVector.broadcast(F, alpha * a[a3 + ap]);
                x30 = v.fma(b0, x30); x31 = v.fma(b1, x31);
            }
            x00.intoArray(c, c0 + j); x01.intoArray(c, c0 + j + FL);
            x10.intoArray(c, c1 + j); x11.intoArray(c, c1 + j + FL);
            x20.intoArray(c, c2 + j); x21.intoArray(c, c2 + j + FL);
            x30.intoArray(c, c3 + j); x31.intoArray(c, c3 + j + FL);
        }
        for (; j + FL <= jTo; j += FL) { // one vector
            FloatVector x0 = FloatVector.fromArray(F, c, c0 + j), x1 = FloatVector.fromArray(F, c, c1 + j);
            FloatVector x2 = FloatVector.fromArray(F, c, c2 + j), x3 = FloatVector.fromArray(F, c, c3 + j);
            for (int p = kb; p < ke; p++) {
                FloatVector b0 = FloatVector.fromArray(F, b, bOff + p * ldb + j);
                int ap = p * acs;
                x0 = FloatVector.broadcast(F, alpha * a[a0 + ap]).fma(b0, x0);
                x1 = FloatVector.broadcast(F, alpha * a[a1 + ap]).fma(b0, x1);
                x2 = FloatVector.broadcast(F, alpha * a[a2 + ap]).fma(b0, x2);
                x3 = FloatVector.broadcast(F, alpha * a[a3 + ap]).fma(b0, x3);
            }
            x0.intoArray(c, c0 + j); x1.intoArray(c, c1 + j); x2.intoArray(c, c2 + j); x3.intoArray(c, c3 + j);
        }
        for (; j < jTo; j++) { // tail: scalar fma, same chain as a lane
            float s0 = c[c0 + j], s1 = c[c1 + j], s2 = c[c2 + j], s3 = c[c3 + j];
            for (int p = kb; p < ke; p++) {
                float bv = b[bOff + p * ldb + j];
                int ap = p * acs;
                s0 = Math.fma(alpha * a[a0 + ap], bv, s0);
                s1 = Math.fma(alpha * a[a1 + ap], bv, s1);
                s2 = Math.fma(alpha * a[a2 + ap], bv, s2);
                s3 = Math.fma(alpha * a[a3 + ap], bv, s3);
            }
            c[c0 + j] = s0; c[c1 + j] = s1; c[c2 + j] = s2; c[c3 + j] = s3;
        }
    }

    private static void rows1(int i, int jFrom, int jTo, int kb, int ke, float alpha,
                              float[] a, int aOff, int ars, int acs, float[] b, int bOff, int ldb,
                              float[] c, int cOff, int ldc) {
        int c0 = cOff + i * ldc;
        int a0 = aOff + i * ars;
        int j = jFrom;
        for (; j + FL <= jTo; j += FL) {
            FloatVector x0 = FloatVector.fromArray(F, c, c0 + j);
            for (int p = kb; p < ke; p++) {
                x0 = FloatVector.broadcast(F, alpha * a[a0 + p * acs]).fma(FloatVector.fromArray(F, b, bOff + p * ldb + j), x0);
            }
            x0.intoArray(c, c0 + j);
        }
        for (; j < jTo; j++) {
            float s0 = c[c0 + j];
            for (int p = kb; p < ke; p++) s0 = Math.fma(alpha * a[a0 + p * acs], b[bOff + p * ldb + j], s0);
            c[c0 + j] = s0;
        }
    }

    // ---------------------------------------------------------------- f64 Cholesky and friends

    /**
     * The blocked Cholesky on a lower triangle whose row i starts at {@code rs[i]} (a full row-major array or a packed
     * one): only entries on or below the diagonal are read or written, in the same order whatever the layout.
     */
    @Override
    void cholesky(int n, double[] a, int[] rs) {
        // the current panel transposed, pt[k − kb][i] = L[i][k], rows padded by 8 doubles: with a row stride of n·8
        // bytes (a multiple of 4 KiB for n = 512, 1536, 4096) the 64 rows a trailing update reads would all map to the
        // same L1 set and evict each other
        int ldp = n + 8;
        double[] pt = new double[NB * ldp];
        for (int block = 0; block < n; block += NB) {
            int kb = block;
            int e = Math.min(n, kb + NB);
            // 1. factor the diagonal block (earlier block columns are already subtracted from it)
            for (int i = kb; i < e; i++) {
                int ri = rs[i];
                for (int j = kb; j <= i; j++) {
                    int rj = rs[j];
                    double s = a[ri + j];
                    for (int k = kb; k < j; k++) s = Math.fma(-a[ri + k], a[rj + k], s);
                    if (i == j) {
                        if (!(s > 0)) throw ScalarLinalg.notPositiveDefinite(i, s);
                        a[ri + i] = Math.sqrt(s);
                    } else {
                        a[ri + j] = s / a[rj + j];
                    }
                }
            }
            if (e == n) break;
            // 2. the panel below it: L21 = A21·L11⁻ᵀ, row by row (forward substitution)
            int rowsBelow = n - e;
            int parts = Math.min(Parallel.partsFor((double) rowsBelow * (e - kb) * (e - kb)), Math.max(1, rowsBelow / 16));
            int fe = e;
            Parallel.run(parts, p -> {
                int from = fe + Parallel.split(rowsBelow, parts, p), to = fe + Parallel.split(rowsBelow, parts, p + 1);
                for (int i = from; i < to; i++) {
                    int ri = rs[i];
                    for (int j = kb; j < fe; j++) {
                        int rj = rs[j];
                        double s = a[ri + j];
                        for (int k = kb; k < j; k++) s = Math.fma(-a[ri + k], a[rj + k], s);
                        double l = s / a[rj + j];
                        a[ri + j] = l;
                        pt[(j - kb) * ldp + i] = l;
                    }
                }
            });
            // 3. trailing update A22 −= L21·L21ᵀ (lower triangle), broadcast form over the transposed panel
            int w = e - kb;
            int parts3 = Math.min(Parallel.partsFor((double) rowsBelow * rowsBelow * w), Math.max(1, rowsBelow / 16));
            int[] bounds = Parallel.splitByCost(rowsBelow, parts3, r -> r + 1);
            Parallel.run(parts3, p -> {
                // column chunks outermost: a 64 × 32 slice of pt (16 KiB) stays in L1 across all rows of this part
                int from = fe + bounds[p], to = fe + bounds[p + 1];
                for (int jc = fe; jc < to; jc += CHUNK) {
                    for (int i = Math.max(from, jc); i < to; i++) trailingSpan(a, pt, rs[i], ldp, kb, w, jc, Math.min(jc + CHUNK, i + 1));
                }
            });
        }
    }

    /**
     * Row i (starting at {@code row} in {@code a}), columns [jFrom, jEnd) of the trailing update: A[i][j] −= Σ_k
     * L[i][kb + k]·pt[k][j]. A method of its own so that it is compiled normally rather than on-stack-replaced inside a
     * long-running loop.
     */
    private static void trailingSpan(double[] a, double[] pt, int row, int ldp, int kb, int w, int jFrom, int jEnd) {
        int j = jFrom;
        for (; j + 4 * DL <= jEnd; j += 4 * DL) {
            DoubleVector s0 = DoubleVector.fromArray(D, a, row + j), s1 = DoubleVector.fromArray(D, a, row + j + DL);
            DoubleVector s2 = DoubleVector.fromArray(D, a, row + j + 2 * DL), s3 = DoubleVector.fromArray(D, a, row + j + 3 * DL);
            for (int k = 0; k < w; k++) {
                DoubleVector l = DoubleVector.broadcast(D, -a[row + kb + k]);
                int q = k * ldp + j;
                s0 = l.fma(DoubleVector.fromArray(D, pt, q), s0);
                s1 = l.fma(DoubleVector.fromArray(D, pt, q + DL), s1);
                s2 = l.fma(DoubleVector.fromArray(D, pt, q + 2 * DL), s2);
                s3 = l.fma(DoubleVector.fromArray(D, pt, q + 3 * DL), s3);
            }
            s0.intoArray(a, row + j); s1.intoArray(a, row + j + DL);
            s2.intoArray(a, row + j + 2 * DL); s3.intoArray(a, row + j + 3 * DL);
        }
        for (; j + DL <= jEnd; j += DL) {
            DoubleVector s0 = DoubleVector.fromArray(D, a, row + j);
            for (int k = 0; k < w; k++) {
                s0 = DoubleVector.broadcast(D, -a[row + kb + k]).fma(DoubleVector.fromArray(D, pt, k * ldp + j), s0);
            }
            s0.intoArray(a, row + j);
        }
        for (; j < jEnd; j++) {
            double s = a[row + j];
            for (int k = 0; k < w; k++) s = Math.fma(-a[row + kb + k], pt[k * ldp + j], s);
            a[row + j] = s;
        }
    }

    /** y[yOff..yOff+len) = fma(alpha, x[xOff..], y[yOff..]), vector body + scalar tail. */
    private static void axpy(int len, double alpha, double[] x, int xOff, double[] y, int yOff) {
        DoubleVector av = DoubleVector.broadcast(D, alpha);
        int j = 0;
        for (; j + DL <= len; j += DL) {
            av.fma(DoubleVector.fromArray(D, x, xOff + j), DoubleVector.fromArray(D, y, yOff + j)).intoArray(y, yOff + j);
        }
        for (; j < len; j++) y[yOff + j] = Math.fma(alpha, x[xOff + j], y[yOff + j]);
    }

    /** Rows per block of the in-place triangular inverse; columns per tile of its products. */
    private static final int INV_NB = 64, INV_TILE = 256;

    /** The in-place triangular inverse on a lower triangle whose row i starts at {@code rs[i]}: see {@link #cholesky(int, double[], int[])}. */
    @Override
    void invertLower(int n, double[] l, int[] rs) {
        if (n == 0) return;
        // Row blocks top to bottom, in place. With rows < i0 already holding X11 = L11⁻¹, the block's rows [i0, i1) are
        // X21 = −X22·(L21·X11) and X22 = L22⁻¹. Only the block's own rows of L are kept aside (INV_NB × n doubles), so
        // the inverse needs no n × n temporary (at n = 11008 one would be 0.97 GB). Every entry's sums run over k in
        // ascending order whatever the column split, so the result does not depend on the thread count.
        double[] buf = new double[INV_NB * n];
        double[] x22 = new double[INV_NB * INV_NB];
        for (int i0 = 0; i0 < n; i0 += INV_NB) {
            int i1 = Math.min(n, i0 + INV_NB), b = i1 - i0, fi0 = i0;
            for (int r = 0; r < b; r++) System.arraycopy(l, rs[i0 + r], buf, r * n, i0 + r + 1);
            // X22 = L22⁻¹ (b × b), from the block's copy
            for (int r = 0; r < b; r++) {
                double d = buf[r * n + i0 + r];
                for (int c = 0; c < r; c++) {
                    double s = 0;
                    for (int k = c; k < r; k++) s = Math.fma(buf[r * n + i0 + k], x22[k * INV_NB + c], s);
                    x22[r * INV_NB + c] = -s / d;
                }
                x22[r * INV_NB + r] = 1 / d;
            }
            if (i0 > 0) {
                for (int r = i0; r < i1; r++) java.util.Arrays.fill(l, rs[r], rs[r] + i0, 0);
                int parts = Math.min(Parallel.partsFor((double) b * i0 * i0 / 2), Math.max(1, i0 / INV_TILE));
                // column j of T costs ~(i0 − j): X11 is lower-triangular
                int[] bounds = Parallel.splitByCost(i0, parts, j -> (double) (fi0 - j));
                Parallel.run(parts, p -> blockTimesInverse(n, l, rs, buf, x22, fi0, b, bounds[p], bounds[p + 1]));
            }
            for (int r = 0; r < b; r++) {
                System.arraycopy(x22, r * INV_NB, l, rs[i0 + r] + i0, r + 1);
            }
        }
    }

    /**
     * Columns [j0, j1) of the block rows [i0, i0 + b): first T = L21·X11 (L21 from {@code buf}, X11 the rows above,
     * already inverted, zero right of its diagonal), then X21 = −X22·T bottom-up in place (row r needs T's rows ≤ r).
     */
    private static void blockTimesInverse(int n, double[] l, int[] rs, double[] buf, double[] x22, int i0, int b, int j0, int j1) {
        double[] acc = new double[INV_TILE];
        for (int jc = j0; jc < j1; jc += INV_TILE) {
            int je = Math.min(j1, jc + INV_TILE);
            for (int k = jc; k < i0; k++) {
                int len = Math.min(je, k + 1) - jc;
                for (int r = 0; r < b; r++) axpy(len, buf[r * n + k], l, rs[k] + jc, l, rs[i0 + r] + jc);
            }
            int len = je - jc;
            for (int r = b - 1; r >= 0; r--) {
                java.util.Arrays.fill(acc, 0, len, 0);
                for (int m = 0; m <= r; m++) axpy(len, x22[r * INV_NB + m], l, rs[i0 + m] + jc, acc, 0);
                int row = rs[i0 + r] + jc;
                for (int j = 0; j < len; j++) l[row + j] = -acc[j];
            }
        }
    }

    @Override
    public void solveLower(int n, int nrhs, double[] l, double[] b) {
        if (n == 0 || nrhs == 0) return;
        int parts = Math.min(Parallel.partsFor((double) n * n * nrhs), Math.max(1, nrhs / 16));
        Parallel.run(parts, p -> {
            int c0 = Parallel.split(nrhs, parts, p), c1 = Parallel.split(nrhs, parts, p + 1);
            for (int i = 0; i < n; i++) {
                int bi = i * nrhs;
                for (int k = 0; k < i; k++) {
                    double lik = -l[i * n + k];
                    axpy(c1 - c0, lik, b, k * nrhs + c0, b, bi + c0);
                }
                double d = l[i * n + i];
                for (int c = c0; c < c1; c++) b[bi + c] /= d;
            }
        });
    }

    @Override
    public void lowerGram(int n, double[] l, double[] out) {
        if (n == 0) return;
        // out[i][0..i] = Σ_{k ≥ i} L[k][i] · L[k][0..i]; row i costs ~ i·(n − i)
        int parts = Math.min(Parallel.partsFor((double) n * n * n / 3), Math.max(1, n / 32));
        int[] bounds = Parallel.splitByCost(n, parts, i -> (double) (i + 1) * (n - i));
        Parallel.run(parts, p -> {
            for (int i = bounds[p]; i < bounds[p + 1]; i++) {
                int row = i * n;
                java.util.Arrays.fill(out, row, row + i + 1, 0);
                for (int k = i; k < n; k++) {
                    axpy(i + 1, l[k * n + i], l, k * n, out, row);
                }
            }
        });
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) out[j * n + i] = out[i * n + j];
        }
    }
}
