package dev.lowbit.calib.observe;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Per input channel {@code mean_t x_t[c]²} (llama.cpp's importance matrix is exactly this per Linear),
 * summed in f64.
 */
public final class MeanSquareObserver implements LinearObserver {
    private final Map<String, double[]> sums = new LinkedHashMap<>();
    private final Map<String, Long> counts = new LinkedHashMap<>();
    private final Map<String, Integer> widths = new LinkedHashMap<>();

    @Override
    public void observe(String module, float[] x, int rows, int cols) {
        HessianObserver.checkShape(module, x, rows, cols, widths);
        double[] s = sums.computeIfAbsent(module, k -> new double[cols]);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double v = x[r * cols + c];
                s[c] += v * v;
            }
        }
        counts.merge(module, (long) rows, Long::sum);
    }

    public double[] meanSquare(String module) {
        double[] s = sums.get(module);
        if (s == null) throw new IllegalArgumentException("no activations observed for " + module);
        double[] out = s.clone();
        long n = counts.get(module);
        for (int i = 0; i < out.length; i++) out[i] /= n;
        return out;
    }

    public long samples(String module) {
        return counts.getOrDefault(module, 0L);
    }
}
