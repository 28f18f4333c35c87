package dev.lowbit.ptq.ternary;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.ptq.grid.Grid;

/**
 * PTQTP under GPTQ's error feedback ({@code Gptq.sweep}): when the sweep reaches the first column of a group, each
 * row's two trit-plane scales are fitted by {@link TritPlaneFit} on the group's weights as the sweep has compensated
 * them so far (weighted by the damped diag(H) of each column); then every weight is rounded to the nearest of the nine
 * values α₁t₁ + α₂t₂ and its error is pushed onto the columns not yet quantized. Columns are swept in order (no
 * act-order: a group must be contiguous for the trit-plane layout).
 */
public final class TritPlaneGrid implements Grid {
    private final String name;
    private final QuantScheme scheme;
    private final int rows, cols, group, groups, maxIterations;
    private final byte[] t1, t2;
    private final float[] s1, s2;
    private final float[] values; // rows × 9 candidate values of the current group
    private long iterations;

    public TritPlaneGrid(String name, QuantScheme scheme, int rows, int cols, int maxIterations) {
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
        float[] w = new float[group];
        double[] d = new double[group];
        for (int i = 0; i < group; i++) d[i] = sweep.importance(c + i);
        byte[] a = new byte[group], b = new byte[group];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < group; i++) w[i] = sweep.current(r, c + i);
            TritPlaneFit.Result f = TritPlaneFit.fit(w, d, 0, group, maxIterations, a, b);
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

    /** The swept matrix as two trit-planes. */
    public QuantizedTensor result() {
        return Ptqtp.tensor(name, rows, cols, scheme, t1, t2, s1, s2);
    }

    public long iterations() {
        return iterations;
    }
}
