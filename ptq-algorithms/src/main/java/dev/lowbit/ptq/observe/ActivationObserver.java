package dev.lowbit.ptq.observe;

/**
 * Accumulates one statistic of the activations entering one Linear, batch by batch. {@code x} is row-major
 * {@code [rows, cols]}: one row per token, {@code cols} = the Linear's in_features. Every observer counts the tokens it
 * has seen ({@link #tokens()}); means are over tokens.
 *
 * <p>Implementations: {@link HessianObserver} (Σ x·xᵀ, GPTQ), {@link MeanSquareObserver} (mean x² per channel, the
 * importance llama-imatrix computes), {@link MaxAbsObserver} (max |x| per channel, SmoothQuant),
 * {@link MeanAbsObserver} (mean |x| per channel, AWQ). Algorithms read them; calibration only feeds them (its engine
 * arrays are adapted in {@code calib.observe}). Calls are serialised; feed batches in a fixed order for reproducible
 * f64 sums.
 */
public interface ActivationObserver {
    /** Adds one batch of {@code rows} tokens. */
    void add(float[] x, int rows, int cols);

    /** Tokens (input rows) seen so far. */
    long tokens();

    /** in_features of the Linear observed. */
    int columns();

    /** Checks one batch's shape against the observer's width. */
    static void checkBatch(String what, int columns, float[] x, int rows, int cols) {
        if (cols != columns) throw new IllegalArgumentException(what + ": input has " + cols + " features, expected " + columns);
        if (rows < 0 || x.length != (long) rows * cols) {
            throw new IllegalArgumentException(what + ": " + x.length + " values do not form " + rows + " × " + cols);
        }
    }
}
