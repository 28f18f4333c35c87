package dev.lowbit.ptq.ternary;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;
import dev.lowbit.ptq.grid.Grid;

/**
 * Binarization with Hessian-salient columns (BiLLM's structure, stored as trit-planes): every weight gets a sign
 * b₁ ∈ {−1, +1} with the row-group scale α₁; the weights of the salient columns also get a residual sign
 * b₂ = sign(w − α₁b₁) with a second scale α₂ (BiLLM's order-2 residual binarization of the salient part):
 * <pre>
 *   Ŵ[r, c] = α₁[r, g]·b₁[r, c] + α₂[r, g]·b₂[r, c]      (b₂ = 0 outside the salient columns)
 * </pre>
 * i.e. two trit-planes, the first never 0, the second non-zero only on the salient columns. The scales of a row-group
 * are fitted when the sweep reaches the group's first column, on the weights as compensated so far, weighted by the
 * (damped) diag(H) of each column: α₁ = Σ h|w| / Σ h (the weighted least-squares scale of a sign pattern), α₂ the same
 * on the salient columns' residuals |w − α₁·sign w|; both rounded to f16. Each weight is then rounded to the nearest
 * value its column allows (±α₁, or ±α₁ ± α₂ on salient columns) and, under {@code Gptq.sweep}, its error is pushed onto
 * the columns not yet quantized. Without a sweep ({@link #quantizeDirect}) the same rounding is plain round-to-nearest.
 *
 * <p>Differences from the BiLLM reference (Aaronhuang-778/BiLLM): no row mean μ (the trit-plane format has no offset;
 * LLM weight rows are near zero-mean), one α₁ shared by salient and other columns of a group, no bell-shaped split of
 * the non-salient weights (it needs one more bit per weight to say which half a weight is in, which the reference does
 * not count), and GPTQ feedback inside the block as well as across blocks.
 */
public final class BinaryGrid implements Grid {
    private final String name;
    private final QuantScheme scheme;
    private final int rows, cols, group, groups;
    private final boolean[] salient;
    private final byte[] t1, t2;
    private final float[] s1, s2;

    /** The scheme of a binarized tensor: two planes (the second sparse), 1-bit codes, f16 scales per group. */
    public static QuantScheme scheme(int groupSize) {
        return Ptqtp.scheme(groupSize, 2, 1.0);
    }

    public BinaryGrid(String name, QuantScheme scheme, int rows, int cols, boolean[] salient) {
        if (scheme.element() != QuantScheme.ElementType.TERNARY || scheme.planes() != 2) {
            throw new IllegalArgumentException(name + ": binarization writes two trit-planes, not " + scheme);
        }
        if (salient.length != cols) throw new IllegalArgumentException(name + ": " + salient.length + " salience flags for " + cols + " columns");
        this.name = name;
        this.scheme = scheme;
        this.rows = rows;
        this.cols = cols;
        this.group = scheme.effectiveGroupSize(cols);
        if (cols % group != 0) throw new IllegalArgumentException(name + ": group size " + group + " does not divide the row of " + cols);
        this.groups = cols / group;
        this.salient = salient.clone();
        this.t1 = new byte[rows * cols];
        this.t2 = new byte[rows * cols];
        this.s1 = new float[rows * groups];
        this.s2 = new float[rows * groups];
    }

    @Override
    public void reach(int j, int c, Sweep sweep) {
        if (j != c) throw new IllegalStateException(name + ": binarized groups need columns in order (no act-order)");
        if (c % group != 0) return;
        int k = c / group;
        for (int r = 0; r < rows; r++) {
            double num = 0, den = 0;
            for (int i = c; i < c + group; i++) {
                double h = sweep.importance(i);
                num += h * Math.abs(sweep.current(r, i));
                den += h;
            }
            float a1 = f16(den > 0 ? num / den : 0);
            double num2 = 0, den2 = 0;
            for (int i = c; i < c + group; i++) {
                if (!salient[i]) continue;
                double h = sweep.importance(i);
                float w = sweep.current(r, i);
                num2 += h * Math.abs(w - (w >= 0 ? a1 : -a1));
                den2 += h;
            }
            s1[r * groups + k] = a1;
            s2[r * groups + k] = f16(den2 > 0 ? num2 / den2 : 0);
        }
    }

    @Override
    public float quantize(int r, int j, int c, float x) {
        int k = c / group;
        float a1 = s1[r * groups + k];
        int b1 = x >= 0 ? 1 : -1;
        float v = a1 * b1;
        int b2 = 0;
        if (salient[c]) {
            float a2 = s2[r * groups + k];
            // nearest of ±α₁ ± α₂: b₁ = sign x, b₂ = sign of the residual (exact when α₂ ≤ α₁; else try both b₁)
            b2 = x - v >= 0 ? 1 : -1;
            float best = a1 * b1 + a2 * b2;
            for (int u = -1; u <= 1; u += 2) {
                for (int w = -1; w <= 1; w += 2) {
                    float cand = a1 * u + a2 * w;
                    if (Math.abs(x - cand) < Math.abs(x - best)) {
                        best = cand;
                        b1 = u;
                        b2 = w;
                    }
                }
            }
            v = best;
        }
        t1[r * cols + c] = (byte) b1;
        t2[r * cols + c] = (byte) b2;
        return v;
    }

    /** The swept matrix: plane 1 the signs (codes 0, 2), plane 2 the salient residual signs (code 1 elsewhere). */
    public QuantizedTensor result() {
        return Ptqtp.tensor(name, rows, cols, scheme, t1, t2, s1, s2);
    }

    /**
     * Round-to-nearest without error feedback: the groups fitted on {@code weight} itself ({@code importance} per
     * column, or null for equal weights). With no salient column this is binary RTN: sign(w)·mean|w| per row-group.
     */
    public static QuantizedTensor quantizeDirect(String name, float[] weight, int rows, int cols, QuantScheme scheme,
                                                 boolean[] salient, double[] importance) {
        Ptqtp.checkFinite(name, weight, rows, cols);
        BinaryGrid g = new BinaryGrid(name, scheme, rows, cols, salient);
        Sweep s = new Sweep() {
            public int rows() {
                return rows;
            }

            public int cols() {
                return cols;
            }

            public float[] batchStart() {
                return weight;
            }

            public float current(int r, int c) {
                return weight[r * cols + c];
            }

            public double importance(int c) {
                return importance == null ? 1 : importance[c];
            }
        };
        for (int c = 0; c < cols; c++) {
            g.reach(c, c, s);
            for (int r = 0; r < rows; r++) g.quantize(r, c, c, weight[r * cols + c]);
        }
        return g.result();
    }

    /**
     * BiLLM's salient columns: the {@code count} columns of largest Σᵣ w[r, c]² / d_c², d_c = U_cc of the upper Cholesky
     * factor of H⁻¹ (the OBS saliency w²/[H⁻¹]_cc up to GPTQ's convention); {@code d} null ranks by Σᵣ w² alone.
     * Ties keep the lower column.
     */
    public static boolean[] salientColumns(float[] weight, int rows, int cols, double[] d, int count) {
        double[] score = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double w = weight[r * cols + c];
                score[c] += w * w;
            }
        }
        if (d != null) for (int c = 0; c < cols; c++) score[c] /= d[c] * d[c];
        Integer[] order = new Integer[cols];
        for (int c = 0; c < cols; c++) order[c] = c;
        java.util.Arrays.sort(order, (a, b) -> score[a] != score[b] ? Double.compare(score[b], score[a]) : Integer.compare(a, b));
        boolean[] s = new boolean[cols];
        for (int i = 0; i < Math.min(count, cols); i++) s[order[i]] = true;
        return s;
    }

    private static float f16(double v) {
        return FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) v));
    }
}
