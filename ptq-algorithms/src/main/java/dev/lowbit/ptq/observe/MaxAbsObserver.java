package dev.lowbit.ptq.observe;

/** Per input channel c: max over tokens of |x[c]| (activation ranges, as SmoothQuant's migration strength needs). */
public final class MaxAbsObserver implements ActivationObserver {
    private final float[] max;
    private long tokens;

    public MaxAbsObserver(int columns) {
        if (columns <= 0) throw new IllegalArgumentException("MaxAbsObserver: columns must be positive, got " + columns);
        this.max = new float[columns];
    }

    /** A NaN input makes its channel's maximum NaN ({@code Math.max} propagates it): consumers check. */
    @Override
    public synchronized void add(float[] x, int rows, int cols) {
        ActivationObserver.checkBatch("MaxAbsObserver", max.length, x, rows, cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                max[c] = Math.max(max[c], Math.abs(x[r * cols + c]));
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
        return max.length;
    }

    /** max |x[c]| per channel (a fresh array); zeros before any token. */
    public synchronized float[] maxAbs() {
        return max.clone();
    }
}
