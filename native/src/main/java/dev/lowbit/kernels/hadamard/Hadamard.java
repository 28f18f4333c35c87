package dev.lowbit.kernels.hadamard;

import java.util.Optional;

/**
 * The orthonormal Hadamard transform of size n = k·2^m: {@code x ← x·H_n/√n} with H_n = H_k ⊗ H_{2^m}, where H_{2^m}
 * is Sylvester's (applied by the fast Walsh–Hadamard kernel) and H_k is 1 or a Paley matrix ({@link HadamardMatrices}).
 * Cost: n·(log₂2^m + k) additions, O(n log n) for a fixed k.
 *
 * <p>With x indexed as (a, b), a &lt; k, b &lt; M = 2^m (x[a·M + b]), (x·(H_k ⊗ H_M))[c, d] = Σ_a H_k[a][c]·(x[a,·]·H_M)[d]:
 * each of the k slices gets the fast transform, then slices are mixed by H_kᵀ. {@link #applyTransposed} computes
 * x·H_nᵀ/√n (the inverse), mixing by H_k instead; Sylvester's H_M is symmetric.
 *
 * <p>{@link #of} picks the smallest base k: 1 when n is a power of two, else k = odd(n)·2^j for the least j with a
 * Paley matrix of that order, up to {@link #MAX_BASE} (1536 = 12·128, 5120 = 20·256, 3584 = 28·128).
 */
public final class Hadamard {
    /**
     * Largest base order tried: the mixing step costs k additions per element, so a larger Paley base (11008 =
     * 5504·2 exists) would turn the transform quadratic in practice.
     */
    public static final int MAX_BASE = 256;

    private final int n;
    private final int k;
    private final int m;
    /** H_k row-major ±1, null when k = 1. */
    private final byte[] base;
    private final float scale;
    private final WalshHadamardKernels kernels;

    private Hadamard(int n, int k, byte[] base, WalshHadamardKernels kernels) {
        this.n = n;
        this.k = k;
        this.m = n / k;
        this.base = base;
        this.scale = (float) (1.0 / Math.sqrt(n));
        this.kernels = kernels;
    }

    /** The transform of size n with the kernels chosen at start-up, or empty when no supported construction fits n. */
    public static Optional<Hadamard> tryOf(int n) {
        return tryOf(n, HadamardKernels.chosen());
    }

    /** As {@link #tryOf(int)} with the given Walsh–Hadamard kernels (tests and benchmarks compare them). */
    public static Optional<Hadamard> tryOf(int n, WalshHadamardKernels kernels) {
        if (n <= 0) return Optional.empty();
        int odd = n >> Integer.numberOfTrailingZeros(n);
        if (odd == 1) return Optional.of(new Hadamard(n, 1, null, kernels));
        for (int k = odd; k <= Math.min(n, MAX_BASE); k <<= 1) {
            if (n % k != 0) break;
            Optional<byte[]> h = HadamardMatrices.of(k);
            if (h.isPresent()) return Optional.of(new Hadamard(n, k, h.get(), kernels));
        }
        return Optional.empty();
    }

    /**
     * The transform of size n.
     *
     * @throws IllegalArgumentException naming n when no supported Hadamard matrix has that size
     */
    public static Hadamard of(int n) {
        return tryOf(n).orElseThrow(() -> new IllegalArgumentException(unsupported(n)));
    }

    /** Why size n has no Hadamard matrix here, in one line. */
    public static String unsupported(int n) {
        if (n <= 0) return "no Hadamard matrix of size " + n;
        int odd = n >> Integer.numberOfTrailingZeros(n);
        return "no Hadamard matrix of size " + n + " (= " + odd + "·2^" + Integer.numberOfTrailingZeros(n)
                + "): supported are 2^m and k·2^m for a Paley order k ≤ " + MAX_BASE
                + " (12, 20, 24, 28, 36, 44, …)";
    }

    public int size() {
        return n;
    }

    /** The non-power-of-two factor k (1 for a pure Sylvester size). */
    public int baseOrder() {
        return k;
    }

    /** In place {@code x[off .. off+n) ← x·H_n/√n}. */
    public void apply(float[] x, int off) {
        transform(x, off, false, k == 1 ? null : new float[n]);
    }

    /** In place {@code x[off .. off+n) ← x·H_nᵀ/√n}, the inverse of {@link #apply}. */
    public void applyTransposed(float[] x, int off) {
        transform(x, off, true, k == 1 ? null : new float[n]);
    }

    /** {@link #apply} on {@code rows} consecutive vectors of length n from {@code off}. */
    public void applyRows(float[] x, int off, int rows) {
        float[] tmp = k == 1 ? null : new float[n];
        for (int r = 0; r < rows; r++) transform(x, off + r * n, false, tmp);
    }

    /** {@link #applyTransposed} on {@code rows} consecutive vectors of length n from {@code off}. */
    public void applyTransposedRows(float[] x, int off, int rows) {
        float[] tmp = k == 1 ? null : new float[n];
        for (int r = 0; r < rows; r++) transform(x, off + r * n, true, tmp);
    }

    private void transform(float[] x, int off, boolean transposed, float[] tmp) {
        java.util.Objects.checkFromIndexSize(off, n, x.length);
        kernels.fwhtRows(x, off, k, m);
        if (k > 1) {
            java.util.Arrays.fill(tmp, 0f);
            for (int c = 0; c < k; c++) {
                int dst = c * m;
                for (int a = 0; a < k; a++) {
                    byte s = transposed ? base[c * k + a] : base[a * k + c];
                    int src = off + a * m;
                    if (s > 0) {
                        for (int d = 0; d < m; d++) tmp[dst + d] += x[src + d];
                    } else {
                        for (int d = 0; d < m; d++) tmp[dst + d] -= x[src + d];
                    }
                }
            }
            System.arraycopy(tmp, 0, x, off, n);
        }
        for (int i = off; i < off + n; i++) x[i] *= scale;
    }

    /** H_n/√n as a dense row-major f64 matrix, for tests and small fusions. */
    public double[] dense() {
        double[] h = new double[n * n];
        double s = 1.0 / Math.sqrt(n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                int a = i / m, b = i % m, c = j / m, d = j % m;
                int hk = base == null ? 1 : base[a * k + c];
                h[i * n + j] = hk * (Integer.bitCount(b & d) % 2 == 0 ? 1 : -1) * s;
            }
        }
        return h;
    }
}
