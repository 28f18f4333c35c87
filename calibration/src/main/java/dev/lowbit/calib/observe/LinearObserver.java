package dev.lowbit.calib.observe;

/**
 * Accumulates statistics of the activations flowing into a Linear. {@code x} is row-major
 * {@code [rows, cols]}: one row per token, {@code cols} = the Linear's input features. Called once per batch;
 * implementations keep one accumulator per {@code module}.
 */
public interface LinearObserver {
    void observe(String module, float[] x, int rows, int cols);
}
