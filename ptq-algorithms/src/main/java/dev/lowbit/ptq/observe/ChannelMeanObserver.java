package dev.lowbit.ptq.observe;

/**
 * Per input channel c: a mean over tokens of f(x[c]), summed in f64 — the shared state of {@link MeanAbsObserver}
 * (f = |x|) and {@link MeanSquareObserver} (f = x²). Subclasses add their batches through {@link #sums} and
 * {@link #count}; each keeps its own loop so the JIT sees one plain body per statistic.
 */
abstract sealed class ChannelMeanObserver implements ActivationObserver permits MeanAbsObserver, MeanSquareObserver {
    /** Σ f(x[c]) over the tokens seen, per channel. */
    protected final double[] sums;
    private long tokens;

    ChannelMeanObserver(String what, int columns) {
        if (columns <= 0) throw new IllegalArgumentException(what + ": columns must be positive, got " + columns);
        this.sums = new double[columns];
    }

    /** Records that a batch of {@code rows} tokens went into {@link #sums}; call while holding the monitor. */
    protected final void count(int rows) {
        tokens += rows;
    }

    @Override
    public final synchronized long tokens() {
        return tokens;
    }

    @Override
    public final int columns() {
        return sums.length;
    }

    /** Σ f(x[c]) / N per channel (a fresh array); zeros before any token. */
    protected final synchronized double[] means() {
        double[] out = sums.clone();
        if (tokens == 0) return out;
        for (int i = 0; i < out.length; i++) out[i] /= tokens;
        return out;
    }
}
