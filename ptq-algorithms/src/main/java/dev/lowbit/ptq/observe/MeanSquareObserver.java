package dev.lowbit.ptq.observe;

/**
 * Per input channel c: mean over tokens of x[c]², summed in f64. llama.cpp's importance matrix is exactly this per
 * Linear (llama-imatrix stores Σ x² and the count); the k-quant searches weigh each column's error by it.
 */
public final class MeanSquareObserver implements ActivationObserver {
    private final double[] sums;
    private long tokens;

    public MeanSquareObserver(int columns) {
        if (columns <= 0) throw new IllegalArgumentException("MeanSquareObserver: columns must be positive, got " + columns);
        this.sums = new double[columns];
    }

    @Override
    public synchronized void add(float[] x, int rows, int cols) {
        ActivationObserver.checkBatch("MeanSquareObserver", sums.length, x, rows, cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double v = x[r * cols + c];
                sums[c] += v * v;
            }
        }
        tokens += rows;
    }

    @Override
    public synchronized long tokens() {
        return tokens;
    }

    @Override
    public int columns() {
        return sums.length;
    }

    /** Σ x[c]² / N per channel (a fresh array); zeros before any token. */
    public synchronized double[] meanSquare() {
        double[] out = sums.clone();
        if (tokens == 0) return out;
        for (int i = 0; i < out.length; i++) out[i] /= tokens;
        return out;
    }
}
