package dev.lowbit.ptq.ternary;

import dev.lowbit.kernels.FloatFormats;

/**
 * The PTQTP fit of one row-group: n weights w (with optional importances d ≥ 0, all 1 for the data-free fit) approximated
 * by two trit-planes, ŵ = α₁·t₁ + α₂·t₂ with t ∈ {−1, 0, 1}, minimising L = Σⱼ dⱼ (wⱼ − ŵⱼ)².
 *
 * <pre>
 *   progressive start:  (α₁, t₁) = best single ternary plane of w;  (α₂, t₂) = best single ternary plane of w − α₁t₁
 *   repeat (at most maxIterations times, until L stops falling by more than a relative 1e-7):
 *     α ← (SᵀDS)⁻¹ SᵀDw,  S = [t₁ t₂]                         (least squares, closed form 2 × 2)
 *     tⱼ ← argmin over the 9 tuples (t₁, t₂) of (wⱼ − α₁t₁ − α₂t₂)²     (exhaustive, per element; dⱼ does not matter)
 *   finally α is rounded to f16 (how it is stored) and the trits are chosen once more against the rounded scales
 * </pre>
 *
 * The alternation only finds a local minimum, and which one depends on the start ({@link Start}). {@link Start#MULTI}
 * also starts from 20 scale pairs (α₁, α₂) = (c₁, c₂)·max|w| on a grid c₁ ∈ {.35 … .75}, c₂ ∈ {.1 … .4} (the trits
 * being the exhaustive choice for them), runs {@value #MULTI_ROUNDS} alternations from every start (the progressive one
 * included), and continues the one with the least loss: its loss is never above the progressive start's after as many
 * rounds, and on tiny-llama-code's Linears it is ~12% below the progressive fit's (PtqtpTest).
 *
 * Each of the two alternating steps is exact for the other fixed, so L never rises between iterations. The single
 * plane fit is exact for d ≡ 1: with k nonzero trits on the k largest |wⱼ|, α = Σ|w|/k over them and
 * L = Σw² − (Σ|w|)²/k; the best k is taken (with importances, the same sort by |w| and the weighted sums).
 * Ties in the trit choice go to the tuple listed first in {@link #TUPLES} (zero first, then sparser), so the fit is
 * deterministic.
 */
public final class TritPlaneFit {
    private TritPlaneFit() {}

    /** The nine (t₁, t₂) tuples in tie-break order: zero, one nonzero (plane 1 first), two nonzero. */
    static final int[][] TUPLES = {
            {0, 0}, {1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {-1, -1}, {1, -1}, {-1, 1}};

    /** A fitted group: the two f16-exact scales, and what the loop did. */
    public record Result(float alpha1, float alpha2, int iterations, double loss) {}

    /** Where the alternation starts. */
    public enum Start {
        /** (α₁, t₁) the best single plane of w, (α₂, t₂) the best single plane of what it leaves. */
        PROGRESSIVE,
        /** The progressive start and 20 scale pairs on a grid of max|w|, a few rounds each, the best one continued. */
        MULTI
    }

    /** Alternations run from each start of {@link Start#MULTI} before the best is chosen. */
    static final int MULTI_ROUNDS = 3;
    private static final double[] MULTI_C1 = {.35, .45, .55, .65, .75}, MULTI_C2 = {.1, .2, .3, .4};

    /** {@link #fit(float[], double[], int, int, int, Start, byte[], byte[])} from the progressive start. */
    public static Result fit(float[] w, double[] d, int off, int n, int maxIterations, byte[] t1, byte[] t2) {
        return fit(w, d, off, n, maxIterations, Start.PROGRESSIVE, t1, t2);
    }

    /**
     * Fits w[off .. off+n) into trits t1/t2 (values −1, 0, 1 written at [off .. off+n)) and returns the scales.
     *
     * @param d importance per element (indexed like w), or null for the data-free fit (all 1)
     */
    public static Result fit(float[] w, double[] d, int off, int n, int maxIterations, Start start, byte[] t1,
                             byte[] t2) {
        // progressive start: plane 1 on w, plane 2 on what plane 1 leaves
        double a1 = singlePlane(w, null, d, off, n, t1);
        double[] residual = new double[n];
        for (int j = 0; j < n; j++) residual[j] = w[off + j] - a1 * t1[off + j];
        double a2 = singlePlane(null, residual, d, off, n, t2);
        int it = 0;
        if (start == Start.MULTI && maxIterations > 0) {
            double[] p = alternate(w, d, off, n, MULTI_ROUNDS, t1, t2, a1, a2);
            a1 = p[0];
            a2 = p[1];
            double bestLoss = p[2];
            it = (int) p[3];
            double max = 0;
            for (int j = 0; j < n; j++) max = Math.max(max, Math.abs(w[off + j]));
            // the group copied to offset 0, with scratch trits
            float[] wg = java.util.Arrays.copyOfRange(w, off, off + n);
            double[] dg = d == null ? null : java.util.Arrays.copyOfRange(d, off, off + n);
            byte[] u1 = new byte[n], u2 = new byte[n];
            for (double c1 : MULTI_C1) {
                for (double c2 : MULTI_C2) {
                    chooseTrits(wg, 0, n, c1 * max, c2 * max, u1, u2);
                    double[] q = alternate(wg, dg, 0, n, MULTI_ROUNDS, u1, u2, c1 * max, c2 * max);
                    it += (int) q[3];
                    if (q[2] < bestLoss) {
                        bestLoss = q[2];
                        a1 = q[0];
                        a2 = q[1];
                        System.arraycopy(u1, 0, t1, off, n);
                        System.arraycopy(u2, 0, t2, off, n);
                    }
                }
            }
        }
        double[] best = alternate(w, d, off, n, maxIterations, t1, t2, a1, a2);
        a1 = best[0];
        a2 = best[1];
        it += (int) best[3];
        // stored as f16: round, then the trits that are best for the rounded scales
        float r1 = FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) a1));
        float r2 = FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) a2));
        if (!Float.isFinite(r1) || !Float.isFinite(r2)) {
            throw new ArithmeticException("trit-plane scale " + a1 + " / " + a2 + " does not fit f16");
        }
        chooseTrits(w, off, n, r1, r2, t1, t2);
        return new Result(r1, r2, it, loss(w, d, off, n, r1, r2, t1, t2));
    }

    /** Level ratios α₂/α₁ of {@link #denseSearch}: {@value #DENSE_RATIOS} values evenly spaced in [0.02, 1]. */
    static final int DENSE_RATIOS = 50;
    /** Starting α₁ of {@link #denseSearch}: {@value #DENSE_STARTS} values evenly spaced in [0.15, 1]·max|w|. */
    static final int DENSE_STARTS = 18;
    /** Lloyd rounds (trits, then least-squares scales) from each start of {@link #denseSearch}. */
    static final int DENSE_ROUNDS = 4;

    /**
     * A dense global search of the two-plane codebook of one group (data-free, d ≡ 1), for measuring how low the error
     * of this format can go, not for quantizing (it costs ~40× the {@link Start#MULTI} fit):
     *
     * <pre>
     *   for every ratio ρ in {@value #DENSE_RATIOS} steps of [0.02, 1] and every c in {@value #DENSE_STARTS} steps of [0.15, 1]:
     *     (α₁, α₂) = (c, ρc)·max|w|;  {@value #DENSE_ROUNDS} × { t ← exhaustive trits;  α ← least squares }
     *     α rounded to f16, t ← exhaustive trits, loss
     *   keep the least loss (first on ties)
     * </pre>
     *
     * The codebook {0, ±α₁, ±α₂, ±(α₁ ± α₂)} is symmetric and scale-free, so ρ ≤ 1 and α₁ on a grid of max|w| cover it.
     * The result is the best loss found, an empirical floor: a group can have a lower optimum that no start reaches.
     * Writes the best trits to t1/t2 at [off .. off+n).
     */
    public static Result denseSearch(float[] w, int off, int n, byte[] t1, byte[] t2) {
        double max = 0;
        for (int j = 0; j < n; j++) max = Math.max(max, Math.abs(w[off + j]));
        float[] wg = java.util.Arrays.copyOfRange(w, off, off + n);
        byte[] u1 = new byte[n], u2 = new byte[n];
        double bestLoss = Double.POSITIVE_INFINITY;
        float b1 = 0, b2 = 0;
        for (int ri = 0; ri < DENSE_RATIOS; ri++) {
            double ratio = 0.02 + (1.0 - 0.02) * ri / (DENSE_RATIOS - 1);
            for (int ci = 0; ci < DENSE_STARTS; ci++) {
                double c = 0.15 + (1.0 - 0.15) * ci / (DENSE_STARTS - 1);
                double a1 = c * max, a2 = ratio * c * max;
                for (int round = 0; round < DENSE_ROUNDS; round++) {
                    chooseTrits(wg, 0, n, a1, a2, u1, u2);
                    double[] a = leastSquares(wg, null, 0, n, u1, u2, a1, a2);
                    a1 = a[0];
                    a2 = a[1];
                }
                float r1 = FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) a1));
                float r2 = FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) a2));
                if (!Float.isFinite(r1) || !Float.isFinite(r2)) continue;
                chooseTrits(wg, 0, n, r1, r2, u1, u2);
                double l = loss(wg, null, 0, n, r1, r2, u1, u2);
                if (l < bestLoss) {
                    bestLoss = l;
                    b1 = r1;
                    b2 = r2;
                    System.arraycopy(u1, 0, t1, off, n);
                    System.arraycopy(u2, 0, t2, off, n);
                }
            }
        }
        if (bestLoss == Double.POSITIVE_INFINITY) throw new ArithmeticException("trit-plane scales do not fit f16");
        return new Result(b1, b2, DENSE_RATIOS * DENSE_STARTS * DENSE_ROUNDS, bestLoss);
    }

    /** Alternates least-squares scales and exhaustive trits from (a1, a2, t1, t2): {α₁, α₂, loss, iterations}. */
    private static double[] alternate(float[] w, double[] d, int off, int n, int maxIterations, byte[] t1, byte[] t2,
                                      double a1, double a2) {
        double loss = loss(w, d, off, n, a1, a2, t1, t2);
        int it = 0;
        while (it < maxIterations) {
            it++;
            double[] a = leastSquares(w, d, off, n, t1, t2, a1, a2);
            chooseTrits(w, off, n, a[0], a[1], t1, t2);
            double next = loss(w, d, off, n, a[0], a[1], t1, t2);
            boolean falling = next < loss * (1 - 1e-7);
            if (next <= loss) {
                a1 = a[0];
                a2 = a[1];
                loss = next;
            } else {
                // cannot happen in exact arithmetic; in floats keep the better state
                chooseTrits(w, off, n, a1, a2, t1, t2);
            }
            if (!falling) break;
        }
        return new double[] {a1, a2, loss, it};
    }

    /**
     * The best single ternary plane (α, t) of the values (w[off+j], or v[j] when w is null), importance-weighted:
     * nonzero trits on the k largest |value|, t = sign, α = Σ d|v| / Σ d over them, k maximising (Σ d|v|)² / Σ d.
     */
    static double singlePlane(float[] w, double[] v, double[] d, int off, int n, byte[] t) {
        Integer[] order = new Integer[n];
        double[] abs = new double[n];
        for (int j = 0; j < n; j++) {
            order[j] = j;
            abs[j] = Math.abs(w != null ? w[off + j] : v[j]);
        }
        java.util.Arrays.sort(order, (x, y) -> Double.compare(abs[y], abs[x]) != 0 ? Double.compare(abs[y], abs[x]) : x - y);
        double s = 0, dd = 0, best = 0, bestAlpha = 0;
        int bestK = 0;
        for (int k = 1; k <= n; k++) {
            int j = order[k - 1];
            double dj = d == null ? 1 : d[off + j];
            s += dj * abs[j];
            dd += dj;
            if (dd > 0 && s * s / dd > best) {
                best = s * s / dd;
                bestK = k;
                bestAlpha = s / dd;
            }
        }
        for (int j = 0; j < n; j++) t[off + j] = 0;
        for (int k = 0; k < bestK; k++) {
            int j = order[k];
            double x = w != null ? w[off + j] : v[j];
            t[off + j] = (byte) (x > 0 ? 1 : x < 0 ? -1 : 0);
        }
        return bestAlpha;
    }

    /**
     * α = (SᵀDS)⁻¹SᵀDw for S = [t1 t2]. When SᵀDS is singular (a plane is empty or the planes are equal up to sign)
     * the fit falls back to the one-dimensional least squares on the plane that carries the weight and keeps the
     * other plane's scale as it was, so that the next trit choice can still use it.
     */
    static double[] leastSquares(float[] w, double[] d, int off, int n, byte[] t1, byte[] t2, double a1, double a2) {
        double g11 = 0, g12 = 0, g22 = 0, b1 = 0, b2 = 0;
        for (int j = 0; j < n; j++) {
            int i = off + j;
            double dj = d == null ? 1 : d[i];
            int x = t1[i], y = t2[i];
            g11 += dj * x * x;
            g12 += dj * x * y;
            g22 += dj * y * y;
            b1 += dj * x * w[i];
            b2 += dj * y * w[i];
        }
        double det = g11 * g22 - g12 * g12;
        if (det > 1e-9 * g11 * g22 && g11 > 0 && g22 > 0) {
            return new double[] {(g22 * b1 - g12 * b2) / det, (g11 * b2 - g12 * b1) / det};
        }
        // singular: refit plane 1's scale with plane 2's held, else plane 2's with plane 1's held
        if (g11 > 0) return new double[] {(b1 - g12 * a2) / g11, a2};
        if (g22 > 0) return new double[] {a1, (b2 - g12 * a1) / g22};
        return new double[] {a1, a2};
    }

    /** Per element, the tuple of {@link #TUPLES} nearest to w (first in tie order on ties). */
    static void chooseTrits(float[] w, int off, int n, double a1, double a2, byte[] t1, byte[] t2) {
        double[] value = new double[TUPLES.length];
        for (int k = 0; k < TUPLES.length; k++) value[k] = a1 * TUPLES[k][0] + a2 * TUPLES[k][1];
        for (int j = 0; j < n; j++) {
            int i = off + j;
            double x = w[i];
            int best = 0;
            double bestErr = Math.abs(x - value[0]);
            for (int k = 1; k < TUPLES.length; k++) {
                double e = Math.abs(x - value[k]);
                if (e < bestErr) {
                    bestErr = e;
                    best = k;
                }
            }
            t1[i] = (byte) TUPLES[best][0];
            t2[i] = (byte) TUPLES[best][1];
        }
    }

    static double loss(float[] w, double[] d, int off, int n, double a1, double a2, byte[] t1, byte[] t2) {
        double l = 0;
        for (int j = 0; j < n; j++) {
            int i = off + j;
            double e = w[i] - (a1 * t1[i] + a2 * t2[i]);
            l += (d == null ? 1 : d[i]) * e * e;
        }
        return l;
    }
}
