package dev.lowbit.calib.observe;

import java.util.LinkedHashMap;
import java.util.Map;

/** Per input channel {@code max_t |x_t[c]|} (activation ranges for SmoothQuant / AWQ-style scaling). */
public final class MaxAbsObserver implements LinearObserver {
    private final Map<String, float[]> max = new LinkedHashMap<>();
    private final Map<String, Integer> widths = new LinkedHashMap<>();

    @Override
    public void observe(String module, float[] x, int rows, int cols) {
        HessianObserver.checkShape(module, x, rows, cols, widths);
        float[] m = max.computeIfAbsent(module, k -> new float[cols]);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) m[c] = Math.max(m[c], Math.abs(x[r * cols + c]));
        }
    }

    public float[] maxAbs(String module) {
        float[] m = max.get(module);
        if (m == null) throw new IllegalArgumentException("no activations observed for " + module);
        return m.clone();
    }
}
