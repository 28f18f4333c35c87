package dev.lowbit.ptq.observe;

/**
 * Per input channel c: mean over tokens of |x[c]|, summed in f64. AWQ's activation statistic: its scale search tries
 * s = mean|x|^α per channel.
 */
public final class MeanAbsObserver extends ChannelMeanObserver {
    public MeanAbsObserver(int columns) {
        super("MeanAbsObserver", columns);
    }

    @Override
    public synchronized void add(float[] x, int rows, int cols) {
        ActivationObserver.checkBatch("MeanAbsObserver", sums.length, x, rows, cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) sums[c] += Math.abs((double) x[r * cols + c]);
        }
        count(rows);
    }

    /**
     * Adds a batch given as its per-channel sums Σ_rows |x[c]| (formed elsewhere, e.g. on the engine in f32 as the
     * references sum): the sums go into the f64 totals.
     */
    public synchronized void addSums(float[] absSums, int rows) {
        if (absSums.length != sums.length) {
            throw new IllegalArgumentException("MeanAbsObserver: " + absSums.length + " channel sums, expected " + sums.length);
        }
        if (rows < 0) throw new IllegalArgumentException("MeanAbsObserver: negative row count " + rows);
        for (int c = 0; c < sums.length; c++) {
            if (!(absSums[c] >= 0)) throw new IllegalArgumentException("MeanAbsObserver: channel " + c + " sum " + absSums[c]);
            sums[c] += absSums[c];
        }
        count(rows);
    }

    /** Σ |x[c]| / N per channel (a fresh array); zeros before any token. */
    public double[] meanAbs() {
        return means();
    }
}
