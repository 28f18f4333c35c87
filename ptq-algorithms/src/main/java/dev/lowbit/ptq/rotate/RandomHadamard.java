package dev.lowbit.ptq.rotate;

import dev.lowbit.kernels.hadamard.Hadamard;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * A randomised Hadamard rotation R = diag(s)·H_n/√n (QuIP#'s and QuaRot's "random Hadamard"): H_n from
 * {@link Hadamard}, signs s ∈ {±1}ⁿ drawn from {@code new SplittableRandom(seed)}, one {@code nextBoolean()} per index
 * in order. R is orthogonal (R·Rᵀ = I), so x ↦ x·R keeps norms and inner products.
 *
 * <p>Row vectors throughout: {@link #rotateRows} computes x·R = (x ⊙ s)·H/√n, {@link #unrotateRows} x·Rᵀ = (x·Hᵀ/√n) ⊙ s,
 * and {@link #rotateColumns} Rᵀ·W for W with n rows (= (Wᵀ·R)ᵀ), each through the fast transform.
 */
public final class RandomHadamard {
    private final Hadamard h;
    private final float[] signs;
    private final long seed;

    private RandomHadamard(Hadamard h, long seed) {
        this.h = h;
        this.seed = seed;
        this.signs = new float[h.size()];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < signs.length; i++) signs[i] = r.nextBoolean() ? 1f : -1f;
    }

    /** R of size n, or empty when no supported Hadamard matrix has size n. */
    public static Optional<RandomHadamard> tryOf(int n, long seed) {
        return Hadamard.tryOf(n).map(t -> new RandomHadamard(t, seed));
    }

    /** R of size n; an {@link IllegalArgumentException} naming n when unsupported ({@link Hadamard#unsupported}). */
    public static RandomHadamard of(int n, long seed) {
        return new RandomHadamard(Hadamard.of(n), seed);
    }

    public int size() {
        return h.size();
    }

    public long seed() {
        return seed;
    }

    /** Each of {@code rows} consecutive vectors of length n from {@code off}: x ← x·R. */
    public void rotateRows(float[] x, int off, int rows) {
        int n = h.size();
        for (int r = 0; r < rows; r++) {
            int o = off + r * n;
            for (int i = 0; i < n; i++) x[o + i] *= signs[i];
        }
        h.applyRows(x, off, rows);
    }

    /** Each of {@code rows} consecutive vectors of length n from {@code off}: x ← x·Rᵀ (the inverse of {@link #rotateRows}). */
    public void unrotateRows(float[] x, int off, int rows) {
        int n = h.size();
        h.applyTransposedRows(x, off, rows);
        for (int r = 0; r < rows; r++) {
            int o = off + r * n;
            for (int i = 0; i < n; i++) x[o + i] *= signs[i];
        }
    }

    /**
     * W ← Rᵀ·W for the n × {@code cols} row-major block at {@code off} (W's columns are rotated as vectors: each column
     * c becomes Rᵀ·c, i.e. cᵀ·R).
     */
    public void rotateColumns(float[] w, int off, int cols) {
        int n = h.size();
        float[] t = new float[n * cols];
        for (int i = 0; i < n; i++) for (int j = 0; j < cols; j++) t[j * n + i] = w[off + i * cols + j];
        rotateRows(t, 0, cols);
        for (int i = 0; i < n; i++) for (int j = 0; j < cols; j++) w[off + i * cols + j] = t[j * n + i];
    }

    /** R as a dense row-major f64 matrix (tests, small checks). */
    public double[] dense() {
        int n = h.size();
        double[] d = h.dense();
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) d[i * n + j] *= signs[i];
        return d;
    }
}
