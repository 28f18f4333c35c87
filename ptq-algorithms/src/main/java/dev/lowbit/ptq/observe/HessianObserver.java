package dev.lowbit.ptq.observe;

import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.kernels.linalg.LinalgKernels;

/**
 * Accumulates the GPTQ Hessian of a Linear's inputs: H = 2/n · Σ x·xᵀ over every input row x (token) seen, where
 * n counts calibration samples (sequences) as the reference's {@code add_batch} does ({@code tmp = inp.shape[0]}, the
 * batch dimension). The reference rescales a running H (H ·= n_old/n_new; x ·= √(2/n_new); H += x·xᵀ); that equals
 * 2/n·Σ x·xᵀ, which this class computes directly: each batch's Xᵀ·X in f32 (SYRK), added into an f64 sum, scaled once
 * on {@link #hessian()}.
 *
 * <p>Calls to {@link #add} may come from several threads; they are serialised. The f64 sum depends on the order of
 * the batches, so feed them in a fixed order for reproducible results.
 */
public final class HessianObserver {
    private final int columns;
    private final double[] sum;
    private final LinalgKernels kernels;
    private int samples;
    private long rowsSeen;

    /** An observer for a Linear with {@code columns} = in_features. */
    public HessianObserver(int columns) {
        this(columns, Linalg.kernels());
    }

    public HessianObserver(int columns, LinalgKernels kernels) {
        if (columns <= 0) throw new IllegalArgumentException("HessianObserver: columns must be positive, got " + columns);
        this.columns = columns;
        this.sum = new double[columns * columns];
        this.kernels = kernels;
    }

    /** Adds one calibration sample (one sequence): {@code rows} input rows of {@code cols} = in_features, row-major. */
    public void add(float[] x, int rows, int cols) {
        add(x, rows, cols, 1);
    }

    /** Adds a batch of {@code samples} sequences whose {@code rows} input rows (all tokens) are in {@code x}. */
    public synchronized void add(float[] x, int rows, int cols, int samples) {
        if (cols != columns) throw new IllegalArgumentException("HessianObserver: input has " + cols + " features, expected " + columns);
        if (rows < 0 || x.length < (long) rows * cols) throw new IllegalArgumentException("HessianObserver: " + x.length + " values do not hold " + rows + " × " + cols);
        if (samples < 1) throw new IllegalArgumentException("HessianObserver: samples must be ≥ 1, got " + samples);
        for (int i = 0; i < rows * cols; i++) {
            if (!Float.isFinite(x[i])) throw new IllegalArgumentException("HessianObserver: input [" + i / cols + ", " + i % cols + "] is " + x[i]);
        }
        kernels.syrkAccumulate(rows, cols, x, 0, cols, sum);
        this.samples += samples;
        this.rowsSeen += rows;
    }

    /** Number of calibration samples (sequences) seen: the reference's {@code nsamples}. */
    public synchronized int samples() {
        return samples;
    }

    /** Number of input rows (tokens) seen. */
    public synchronized long rows() {
        return rowsSeen;
    }

    public int columns() {
        return columns;
    }

    /** H = 2/n · Σ x·xᵀ (columns × columns, row-major, a fresh copy); all zeros before any sample. */
    public synchronized double[] hessian() {
        double[] h = sum.clone();
        if (samples == 0) return h;
        double f = 2.0 / samples;
        for (int i = 0; i < h.length; i++) h[i] *= f;
        return h;
    }
}
