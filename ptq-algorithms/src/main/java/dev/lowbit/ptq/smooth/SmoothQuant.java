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
