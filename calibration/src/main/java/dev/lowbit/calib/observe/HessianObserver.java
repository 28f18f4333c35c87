package dev.lowbit.calib.observe;

import ai.djl.ndarray.NDArray;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * GPTQ's proxy Hessian per module: {@code H = Σ_t x_t x_tᵀ} over all observed tokens, with the token count
 * {@code n} (GPTQ uses {@code 2H/n}). Each batch's {@code XᵀX} is accumulated in f32 (as the reference does on
 * the GPU), batches are reduced in f64 so the result does not depend on how many batches there were.
 * Fed by {@link ObservingHook}, the batch product runs as one f32 GEMM in PyTorch ({@link #observe(String, NDArray)});
 * the {@code float[]} path is the scalar reference.
 */
public final class HessianObserver implements LinearObserver, NDArrayObserver {
    private final Map<String, double[]> sums = new LinkedHashMap<>();
    private final Map<String, Long> counts = new LinkedHashMap<>();
    private final Map<String, Integer> widths = new LinkedHashMap<>();

    @Override
    public void observe(String module, float[] x, int rows, int cols) {
        checkShape(module, x, rows, cols, widths);
        float[] batch = new float[cols * cols];
        // lower triangle of XᵀX, row by row: batch[i][j] += x_i · x_j for j ≤ i
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            for (int i = 0; i < cols; i++) {
                float xi = x[base + i];
                if (xi == 0f) continue;
                int hi = i * cols;
                for (int j = 0; j <= i; j++) batch[hi + j] += xi * x[base + j];
            }
        }
        for (int i = 0; i < cols; i++) for (int j = 0; j < i; j++) batch[j * cols + i] = batch[i * cols + j];
        reduce(module, batch, rows, cols);
    }

    /** {@code XᵀX} of the batch as one f32 matrix product on the engine, then the same f64 reduction. */
    @Override
    public void observe(String module, NDArray x) {
        int rows = Math.toIntExact(x.getShape().get(0));
        int cols = Math.toIntExact(x.getShape().get(1));
        Integer w = widths.putIfAbsent(module, cols);
        if (w != null && w != cols) throw new IllegalArgumentException(module + ": width " + cols + " after " + w);
        try (NDArray xtx = x.transpose().matMul(x)) {
            reduce(module, xtx.toFloatArray(), rows, cols);
        }
    }

    private void reduce(String module, float[] batch, int rows, int cols) {
        double[] h = sums.computeIfAbsent(module, m -> new double[cols * cols]);
        for (int i = 0; i < h.length; i++) h[i] += batch[i];
        counts.merge(module, (long) rows, Long::sum);
    }

    /** {@code Σ x xᵀ}, symmetric, row-major {@code [cols, cols]} (the live array: copy before mutating). */
    public double[] hessian(String module) {
        double[] h = sums.get(module);
        if (h == null) throw new IllegalArgumentException("no activations observed for " + module);
        return h;
    }

    /** Tokens observed for {@code module}. */
    public long samples(String module) {
        return counts.getOrDefault(module, 0L);
    }

    public int columns(String module) {
        return widths.get(module);
    }

    public Set<String> modules() {
        return sums.keySet();
    }

    /** Forgets {@code module} (free its memory once the layer is quantized). */
    public void clear(String module) {
        sums.remove(module);
        counts.remove(module);
        widths.remove(module);
    }

    static void checkShape(String module, float[] x, int rows, int cols, Map<String, Integer> widths) {
        if ((long) rows * cols != x.length) {
            throw new IllegalArgumentException(module + ": " + x.length + " values for " + rows + "×" + cols);
        }
        Integer w = widths.putIfAbsent(module, cols);
        if (w != null && w != cols) throw new IllegalArgumentException(module + ": width " + cols + " after " + w);
    }
}
