package dev.lowbit.ptq.smooth;

import java.util.List;

/**
 * SmoothQuant's migration scales (Xiao et al. 2023; mit-han-lab/smoothquant {@code smooth.py}): for the channels j
 * shared by the balanced Linears,
 * <pre>
 *   s_j = max(|X_j|)^α / max(max_r |W_rj| over every balanced Linear)^(1−α)
 * </pre>
 * with both statistics clamped to ≥ 1e-5 and s clamped to ≥ 1e-5 (a dead activation channel or an all-zero weight
 * column stays finite). The producer is divided by s and the Linears' columns multiplied by it ({@link ScaleFold}).
 */
public final class SmoothQuant {
    static final float FLOOR = 1e-5f;

    /**
     * The α grid of the per-mapping search: 0.05, 0.10, …, 0.95 (19 points, both ends excluded as {@link #scales}
     * requires α in (0, 1)). Intel Neural Compressor's auto-α searches 0.0–1.0 in steps of 0.1 by default, its Llama-2
     * recipe 0.8–0.99 in steps of 0.01; AWQ's 20 points step by 0.05 as here.
     */
    public static double[] defaultGrid() {
        return grid(19);
    }

    /** {@code n} evenly spaced points strictly inside (0, 1): α_i = i / (n + 1), i = 1 … n (19: the default grid). */
    public static double[] grid(int n) {
        if (n < 1) throw new IllegalArgumentException("SmoothQuant alpha grid needs at least one point, got " + n);
        double[] g = new double[n];
        for (int i = 0; i < n; i++) g[i] = (i + 1) / (double) (n + 1);
        return g;
    }

    /** Scores candidate scales s (the caller folds them and runs the quantized block): lower is better. */
    @FunctionalInterface
    public interface Loss {
        double loss(float[] s);
    }

    /**
     * @param alpha  the chosen α
     * @param scales its s
     * @param grid   the α points scored, in order
     * @param losses the loss of each grid point
     */
    public record Choice(double alpha, float[] scales, double[] grid, double[] losses) {}

    /**
     * The per-mapping α search: for every α of {@code grid}, s = {@link #scales}(α), scored by {@code loss}; the α of
     * the smallest loss (ties keep the earlier point). A non-finite loss is never chosen; every point non-finite is an
     * error naming the grid.
     */
    public static Choice search(float[] actMax, List<float[]> weights, double[] grid, Loss loss) {
        if (grid.length == 0) throw new IllegalArgumentException("SmoothQuant alpha grid is empty");
        double[] losses = new double[grid.length];
        int best = -1;
        float[] bestScales = null;
        for (int i = 0; i < grid.length; i++) {
            float[] s = scales(actMax, weights, grid[i]);
            losses[i] = loss.loss(s);
            if (Double.isFinite(losses[i]) && (best < 0 || losses[i] < losses[best])) {
                best = i;
                bestScales = s;
            }
        }
        if (best < 0) throw new IllegalStateException("SmoothQuant alpha search: no finite loss on the grid " + java.util.Arrays.toString(grid));
        return new Choice(grid[best], bestScales, grid.clone(), losses);
    }

    private SmoothQuant() {}

    /**
     * @param actMax  per-channel max |x| over the calibration tokens, length = in_features
     * @param weights the balanced Linears' weights {@code [rows_i, cols]} row-major
     * @param alpha   migration strength in (0, 1)
     */
    public static float[] scales(float[] actMax, List<float[]> weights, double alpha) {
        if (!(alpha > 0 && alpha < 1)) throw new IllegalArgumentException("SmoothQuant alpha must lie in (0, 1), got " + alpha);
        int cols = actMax.length;
        float[] wMax = new float[cols];
        for (float[] w : weights) {
            if (w.length % cols != 0) throw new IllegalArgumentException("weight of " + w.length + " values is not [rows, " + cols + "]");
            for (int i = 0; i < w.length; i++) wMax[i % cols] = Math.max(wMax[i % cols], Math.abs(w[i]));
        }
        float[] s = new float[cols];
        for (int j = 0; j < cols; j++) {
            double a = Math.max(actMax[j], FLOOR), b = Math.max(wMax[j], FLOOR);
            s[j] = (float) Math.max(Math.pow(a, alpha) / Math.pow(b, 1 - alpha), FLOOR);
        }
        return s;
    }
}
