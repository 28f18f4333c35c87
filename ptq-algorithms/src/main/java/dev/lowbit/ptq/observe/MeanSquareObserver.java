package dev.lowbit.ptq.observe;

/**
 * Per input channel c: mean over tokens of x[c]², summed in f64. llama.cpp's importance matrix is exactly this per
 * Linear (llama-imatrix stores Σ x² and the count); the k-quant searches weigh each column's error by it.
 */
public final class MeanSquareObserver extends ChannelMeanObserver {
    public MeanSquareObserver(int columns) {
        super("MeanSquareObserver", columns);
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
        count(rows);
    }

    /** Σ x[c]² / N per channel (a fresh array); zeros before any token. */
    public double[] meanSquare() {
        return means();
    }
}
