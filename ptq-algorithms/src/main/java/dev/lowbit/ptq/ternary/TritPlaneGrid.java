package dev.lowbit.ptq.ternary;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.ptq.grid.Grid;

/**
 * PTQTP under GPTQ's error feedback ({@code Gptq.sweep}): when the sweep reaches the first column of a group, each
 * row's two trit-plane scales are fitted by {@link TritPlaneFit} on the group's weights as the sweep has compensated
 * them so far (weighted by the damped diag(H) of each column); then every weight is rounded to the nearest of the nine
 * values α₁t₁ + α₂t₂ and its error is pushed onto the columns not yet quantized. Columns are swept in order (the
 * sweep's act-order would scatter a group; {@link #groupActOrder} is the variant that keeps groups whole).
 *
 * <p>After {@link #refitScales}, {@link #holdScales} makes the next sweep keep those scales and choose only the trits
 * (with error feedback) — the "sweep → refit → re-sweep" rounds of {@code refit_rounds}; {@link #outputLoss} scores a
 * round and {@link #snapshot} / {@link #restore} keep the best.
 */
public final class TritPlaneGrid implements Grid {
    private final String name;
    private final QuantScheme scheme;
    private final int rows, cols, group, groups, maxIterations;
    private final TritPlaneFit.Start start;
    private final byte[] t1, t2;
    private final float[] s1, s2;
    private final float[] values; // rows × 9 candidate values of the current group
    private long iterations;
    private boolean holdScales;

    public TritPlaneGrid(String name, QuantScheme scheme, int rows, int cols, int maxIterations) {
        this(name, scheme, rows, cols, maxIterations, TritPlaneFit.Start.PROGRESSIVE);
    }

    /** With the start of each group's fit ({@link TritPlaneFit.Start}). */
    public TritPlaneGrid(String name, QuantScheme scheme, int rows, int cols, int maxIterations, TritPlaneFit.Start start) {
        this.start = start;
        this.name = name;
        this.scheme = scheme;
        this.rows = rows;
        this.cols = cols;
        this.group = scheme.effectiveGroupSize(cols);
        if (cols % group != 0) throw new IllegalArgumentException(name + ": group size " + group + " does not divide the row of " + cols);
        this.groups = cols / group;
        this.maxIterations = maxIterations;
        this.t1 = new byte[rows * cols];
        this.t2 = new byte[rows * cols];
        this.s1 = new float[rows * groups];
        this.s2 = new float[rows * groups];
        this.values = new float[rows * TritPlaneFit.TUPLES.length];
    }

    @Override
    public void reach(int j, int c, Sweep sweep) {
        if (j != c) throw new IllegalStateException(name + ": trit-plane groups need columns in order (no act-order)");
        if (c % group != 0) return;
        int k = c / group;
        if (holdScales) {
            for (int r = 0; r < rows; r++) {
                for (int t = 0; t < TritPlaneFit.TUPLES.length; t++) {
                    values[r * TritPlaneFit.TUPLES.length + t] = s1[r * groups + k] * TritPlaneFit.TUPLES[t][0] + s2[r * groups + k] * TritPlaneFit.TUPLES[t][1];
                }
            }
            return;
        }
        float[] w = new float[group];
        double[] d = new double[group];
        for (int i = 0; i < group; i++) d[i] = sweep.importance(c + i);
        byte[] a = new byte[group], b = new byte[group];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < group; i++) w[i] = sweep.current(r, c + i);
            TritPlaneFit.Result f = TritPlaneFit.fit(w, d, 0, group, maxIterations, start, a, b);
            iterations += f.iterations();
            s1[r * groups + k] = f.alpha1();
            s2[r * groups + k] = f.alpha2();
            for (int t = 0; t < TritPlaneFit.TUPLES.length; t++) {
                values[r * TritPlaneFit.TUPLES.length + t] = f.alpha1() * TritPlaneFit.TUPLES[t][0] + f.alpha2() * TritPlaneFit.TUPLES[t][1];
            }
        }
    }

    @Override
    public float quantize(int r, int j, int c, float x) {
        int base = r * TritPlaneFit.TUPLES.length;
        int best = 0;
        float bestErr = Math.abs(x - values[base]);
        for (int t = 1; t < TritPlaneFit.TUPLES.length; t++) {
            float e = Math.abs(x - values[base + t]);
            if (e < bestErr) {
                bestErr = e;
                best = t;
            }
        }
        t1[r * cols + c] = (byte) TritPlaneFit.TUPLES[best][0];
        t2[r * cols + c] = (byte) TritPlaneFit.TUPLES[best][1];
        return values[base + best];
    }

    /**
     * After the sweep: with every trit fixed, refits each row's scales (two per group) to the layer's output error
     * rather than to the compensated weights, i.e. minimises (w − ŵ)·H·(w − ŵ)ᵀ over the row's 2·groups scales, ŵ linear
     * in them: a 2G × 2G least-squares system per row (Bᵀ H B) α = Bᵀ H w, B the trits split by plane and group.
     * The sweep's scales are a feasible point, so the calibration loss can only fall (up to the f16 rounding of the new
     * scales); a row whose system is singular (a plane with no trit in some group) keeps its scales.
     *
     * @param weight the original weights (rows × cols)
     * @param h the (damped) calibration Hessian, cols × cols
     */
    public void refitScales(float[] weight, double[] h) {
        int k = 2 * groups;
        double[] hb = new double[cols * k];
        double[] m = new double[k * k], v = new double[k];
        for (int r = 0; r < rows; r++) {
            java.util.Arrays.fill(hb, 0);
            for (int c = 0; c < cols; c++) {
                int g = c / group;
                for (int p = 0; p < 2; p++) {
                    int t = (p == 0 ? t1 : t2)[r * cols + c];
                    if (t == 0) continue;
                    int col = p * groups + g;
                    for (int i = 0; i < cols; i++) hb[i * k + col] += t * h[c * cols + i]; // H is symmetric: row c
                }
            }
            java.util.Arrays.fill(m, 0);
            java.util.Arrays.fill(v, 0);
            for (int c = 0; c < cols; c++) {
                double w = weight[r * cols + c];
                for (int a = 0; a < k; a++) v[a] += hb[c * k + a] * w;
                int g = c / group;
                for (int p = 0; p < 2; p++) {
                    int t = (p == 0 ? t1 : t2)[r * cols + c];
                    if (t == 0) continue;
                    int row = p * groups + g;
                    for (int a = 0; a < k; a++) m[row * k + a] += t * hb[c * k + a];
                }
            }
            double[] alpha = solve(m, v, k);
            if (alpha == null) continue;
            for (int g = 0; g < groups; g++) {
                s1[r * groups + g] = dev.lowbit.kernels.FloatFormats.f16ToF32(dev.lowbit.kernels.FloatFormats.f32ToF16((float) alpha[g]));
                s2[r * groups + g] = dev.lowbit.kernels.FloatFormats.f16ToF32(dev.lowbit.kernels.FloatFormats.f32ToF16((float) alpha[groups + g]));
            }
        }
    }

    /** Gaussian elimination with partial pivoting; null when a pivot vanishes (relative to the diagonal) or a value is not finite. */
    private static double[] solve(double[] m, double[] v, int n) {
        double[] a = m.clone(), b = v.clone();
        double scale = 0;
        for (int i = 0; i < n; i++) scale = Math.max(scale, Math.abs(a[i * n + i]));
        if (!(scale > 0)) return null;
        for (int col = 0; col < n; col++) {
            int piv = col;
            for (int i = col + 1; i < n; i++) if (Math.abs(a[i * n + col]) > Math.abs(a[piv * n + col])) piv = i;
            if (Math.abs(a[piv * n + col]) < 1e-12 * scale) return null;
            if (piv != col) {
                for (int j = 0; j < n; j++) {
                    double t = a[col * n + j];
                    a[col * n + j] = a[piv * n + j];
                    a[piv * n + j] = t;
                }
                double t = b[col];
                b[col] = b[piv];
                b[piv] = t;
            }
            for (int i = col + 1; i < n; i++) {
                double f = a[i * n + col] / a[col * n + col];
                if (f == 0) continue;
                for (int j = col; j < n; j++) a[i * n + j] -= f * a[col * n + j];
                b[i] -= f * b[col];
            }
        }
        double[] x = new double[n];
        for (int i = n - 1; i >= 0; i--) {
            double s = b[i];
            for (int j = i + 1; j < n; j++) s -= a[i * n + j] * x[j];
            x[i] = s / a[i * n + i];
            if (!Double.isFinite(x[i])) return null;
        }
        return x;
    }

    /**
     * Cyclic coordinate descent on the trits, scales held: for each row, column by column, the trit pair (t₁, t₂) of
     * the nine that minimises the row's output error eHeᵀ given every other element (e = w − ŵ). Changing one
     * element's value by −d changes e by +d at that column and the loss by 2d(He)_c + d²H_cc, so each step costs
     * nine evaluations plus, when a pair changes, one update of He (a column of H). A pair changes only if the loss
     * falls, so the loss never rises; a row stops after a pass with no change or after {@code passes} passes.
     * This is the exact-loss clean-up of the greedy sweep (GPTQ chooses each column once, before the later columns
     * are known); CDQuant (Nair &amp; Suggala, arXiv 2406.17542) minimises the same layer loss by coordinate descent on
     * integer grids, in greedy order (the best coordinate first), where this is cyclic (column order).
     *
     * @param weight the original weights (rows × cols)
     * @param h the (damped) calibration Hessian, cols × cols, symmetric
     * @return the number of trit pairs changed
     */
    public long descend(float[] weight, double[] h, int passes) {
        long changed = 0;
        double[] e = new double[cols], he = new double[cols];
        int nt = TritPlaneFit.TUPLES.length;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int g = c / group, i = r * cols + c;
                e[c] = weight[i] - ((double) s1[r * groups + g] * t1[i] + (double) s2[r * groups + g] * t2[i]);
            }
            for (int a = 0; a < cols; a++) {
                double dot = 0;
                int base = a * cols;
                for (int b = 0; b < cols; b++) dot += h[base + b] * e[b];
                he[a] = dot;
            }
            for (int pass = 0; pass < passes; pass++) {
                long before = changed;
                for (int c = 0; c < cols; c++) {
                    int g = c / group, i = r * cols + c;
                    double a1 = s1[r * groups + g], a2 = s2[r * groups + g];
                    double now = a1 * t1[i] + a2 * t2[i], hcc = h[c * cols + c];
                    int best = -1;
                    double bestDelta = 0, bestD = 0;
                    for (int t = 0; t < nt; t++) {
                        double d = now - (a1 * TritPlaneFit.TUPLES[t][0] + a2 * TritPlaneFit.TUPLES[t][1]);
                        double delta = d * (2 * he[c] + d * hcc);
                        if (delta < bestDelta) {
                            bestDelta = delta;
                            best = t;
                            bestD = d;
                        }
                    }
                    if (best < 0) continue;
                    t1[i] = (byte) TritPlaneFit.TUPLES[best][0];
                    t2[i] = (byte) TritPlaneFit.TUPLES[best][1];
                    e[c] += bestD;
                    int base = c * cols; // H is symmetric: row c is column c
                    for (int a = 0; a < cols; a++) he[a] += bestD * h[base + a];
                    changed++;
                }
                if (changed == before) break;
            }
        }
        return changed;
    }

    /** From now on the sweep keeps the scales this grid holds (the last refit's) and chooses only the trits. */
    public void holdScales() {
        holdScales = true;
    }

    /**
     * The output error of the current trits and scales, Σᵣ eᵣ H eᵣᵀ with eᵣ = wᵣ − ŵᵣ (in f64): what
     * {@link #refitScales} minimises over the scales.
     */
    public double outputLoss(float[] weight, double[] h) {
        double total = 0;
        double[] e = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int g = c / group, i = r * cols + c;
                e[c] = weight[i] - ((double) s1[r * groups + g] * t1[i] + (double) s2[r * groups + g] * t2[i]);
            }
            for (int a = 0; a < cols; a++) {
                if (e[a] == 0) continue;
                double dot = 0;
                int base = a * cols;
                for (int b = 0; b < cols; b++) dot += h[base + b] * e[b];
                total += e[a] * dot;
            }
        }
        return total;
    }

    /** The trits and scales as they stand. */
    public record State(byte[] t1, byte[] t2, float[] s1, float[] s2) {}

    public State snapshot() {
        return new State(t1.clone(), t2.clone(), s1.clone(), s2.clone());
    }

    public void restore(State s) {
        System.arraycopy(s.t1(), 0, t1, 0, t1.length);
        System.arraycopy(s.t2(), 0, t2, 0, t2.length);
        System.arraycopy(s.s1(), 0, s1, 0, s1.length);
        System.arraycopy(s.s2(), 0, s2, 0, s2.length);
    }

    /**
     * Act-order that keeps every group whole (GPTQ's desc_act would scatter a group's columns over the sweep): groups
     * in order of decreasing Σ diag(H) over their columns, and within each group its columns by decreasing diag(H);
     * ties keep the lower index first. perm[j] is the physical column swept at position j; groups of the permuted
     * matrix are the physical groups, reordered.
     */
    public static int[] groupActOrder(double[] h, int cols, int group) {
        if (cols % group != 0) throw new IllegalArgumentException("group size " + group + " does not divide the row of " + cols);
        int groups = cols / group;
        double[] sum = new double[groups];
        for (int c = 0; c < cols; c++) sum[c / group] += h[c * cols + c];
        Integer[] order = new Integer[groups];
        for (int k = 0; k < groups; k++) order[k] = k;
        java.util.Arrays.sort(order, (x, y) -> Double.compare(sum[y], sum[x]) != 0 ? Double.compare(sum[y], sum[x]) : x - y);
        int[] perm = new int[cols];
        for (int k = 0; k < groups; k++) {
            Integer[] in = new Integer[group];
            for (int i = 0; i < group; i++) in[i] = order[k] * group + i;
            java.util.Arrays.sort(in, (x, y) -> Double.compare(h[y * cols + y], h[x * cols + x]) != 0
                    ? Double.compare(h[y * cols + y], h[x * cols + x]) : x - y);
            for (int i = 0; i < group; i++) perm[k * group + i] = in[i];
        }
        return perm;
    }

    /** W[:, perm] (rows × cols, row-major). */
    public static float[] permuteColumns(float[] w, int rows, int cols, int[] perm) {
        float[] out = new float[w.length];
        for (int r = 0; r < rows; r++) for (int j = 0; j < cols; j++) out[r * cols + j] = w[r * cols + perm[j]];
        return out;
    }

    /** H[perm][:, perm] (cols × cols). */
    public static double[] permuteSymmetric(double[] h, int cols, int[] perm) {
        double[] out = new double[h.length];
        for (int i = 0; i < cols; i++) for (int j = 0; j < cols; j++) out[i * cols + j] = h[perm[i] * cols + perm[j]];
        return out;
    }

    /** The swept matrix as two trit-planes. */
    public QuantizedTensor result() {
        return Ptqtp.tensor(name, rows, cols, scheme, t1, t2, s1, s2);
    }

    /**
     * The swept matrix as two trit-planes in physical column order, the sweep having run on W[:, perm] with perm from
     * {@link #groupActOrder} (a permutation that maps whole groups onto whole groups).
     */
    public QuantizedTensor result(int[] perm) {
        if (perm == null) return result();
        byte[] p1 = new byte[t1.length], p2 = new byte[t2.length];
        float[] q1 = new float[s1.length], q2 = new float[s2.length];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                p1[r * cols + perm[j]] = t1[r * cols + j];
                p2[r * cols + perm[j]] = t2[r * cols + j];
            }
            for (int k = 0; k < groups; k++) {
                int pk = perm[k * group] / group;
                q1[r * groups + pk] = s1[r * groups + k];
                q2[r * groups + pk] = s2[r * groups + k];
            }
        }
        return Ptqtp.tensor(name, rows, cols, scheme, p1, p2, q1, q2);
    }

    public long iterations() {
        return iterations;
    }
}
