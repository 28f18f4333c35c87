package dev.lowbit.ptq.observe;

/**
 * Per input channel c: mean over tokens of |x[c]|, summed in f64. AWQ's activation statistic: its scale search tries
 * s = mean|x|^α per channel.
 */
public final class MeanAbsObserver implements ActivationObserver {
    private final double[] sums;
    private long tokens;

    public MeanAbsObserver(int columns) {
        if (columns <= 0) throw new IllegalArgumentException("MeanAbsObserver: columns must be positive, got " + columns);
        this.sums = new double[columns];
    }

    @Override
    public synchronized void add(float[] x, int rows, int cols) {
        ActivationObserver.checkBatch("MeanAbsObserver", sums.length, x, rows, cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) sums[c] += Math.abs((double) x[r * cols + c]);
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

    /** Σ |x[c]| / N per channel (a fresh array); zeros before any token. */
    public synchronized double[] meanAbs() {
        double[] out = sums.clone();
        if (tokens == 0) return out;
        for (int i = 0; i < out.length; i++) out[i] /= tokens;
        return out;
    }
}
