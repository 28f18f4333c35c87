package dev.lowbit.ptq.observe;

import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.kernels.linalg.LinalgKernels;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The proxy Hessian of a Linear's inputs that GPTQ needs: S = Σ x·xᵀ over every token x seen, with the token count N.
 * Each batch's Xᵀ·X is formed in f32 (as the reference does on the GPU) and added into an f64 sum, so the result does
 * not depend on how many batches there were beyond f32 rounding inside each. The batch product is either computed here
 * ({@link #add}, SYRK from {@code native}) or handed in already formed ({@link #addGram}: calibration multiplies on its
 * engine, one f32 GEMM per batch).
 *
 * <p>GPTQ's H is 2/n·S (the reference's {@code add_batch} keeps that running normalisation); GPTQ is invariant to
 * scaling H (its damping is relative to mean diag H), so callers may pass {@link #sum()} as is, and
 * {@link #hessian()} normalises by the token count N.
 */
public final class HessianObserver implements ActivationObserver {
    private final int columns;
    private double[] sum;
    private final LinalgKernels kernels;
    private long tokens;
    /** Whether entries below the diagonal still wait to be copied from above it ({@link #addGramUpper}). */
    private boolean lowerPending;

    /** An observer for a Linear with {@code columns} = in_features. */
    public HessianObserver(int columns) {
        this(columns, Linalg.kernels());
    }

    public HessianObserver(int columns, LinalgKernels kernels) {
        if (columns <= 0) throw new IllegalArgumentException("HessianObserver: columns must be positive, got " + columns);
        this.columns = columns;
        this.sum = new double[Math.multiplyExact(columns, columns)];
        this.kernels = kernels;
    }

    /** Adds a batch of {@code rows} tokens ({@code rows × cols}, row-major; every value finite). */
    @Override
    public synchronized void add(float[] x, int rows, int cols) {
        ActivationObserver.checkBatch("HessianObserver", columns, x, rows, cols);
        for (int i = 0; i < x.length; i++) {
            if (!Float.isFinite(x[i])) throw new IllegalArgumentException("HessianObserver: input [" + i / cols + ", " + i % cols + "] is " + x[i]);
        }
        kernels.syrkAccumulate(rows, cols, x, 0, cols, full());
        tokens += rows;
    }

    /**
     * Adds a batch of {@code rows} tokens whose f32 product Xᵀ·X ({@code columns × columns}, row-major, symmetric)
     * was formed elsewhere: each entry is added into the f64 sum as is.
     */
    public synchronized void addGram(float[] xtx, int rows) {
        double[] sum = full();
        if (xtx.length != sum.length) {
            throw new IllegalArgumentException("HessianObserver: a Gram matrix of " + xtx.length + " values for " + columns + " features");
        }
        if (rows < 0) throw new IllegalArgumentException("HessianObserver: negative token count " + rows);
        for (int i = 0; i < sum.length; i++) sum[i] += xtx[i];
        tokens += rows;
    }

    /**
     * Adds rows [{@code from}, {@code from + count}) of a batch's f32 Xᵀ·X, read where they lie ({@code count ×
     * columns} f32 values in native byte order, e.g. the engine's own buffer: no heap copy of an n² product), into the
     * f64 sum as {@link #addGram} does; the batch's tokens are counted once, with {@link #addTokens}.
     */
    public synchronized void addGramRows(MemorySegment xtxRows, int from, int count) {
        double[] sum = full();
        if (from < 0 || count < 0 || from > columns - count) {
            throw new IllegalArgumentException("HessianObserver: rows [" + from + ", " + (from + (long) count) + ") of a " + columns + "-feature Gram matrix");
        }
        long n = (long) count * columns;
        if (xtxRows.byteSize() != n * Float.BYTES) {
            throw new IllegalArgumentException("HessianObserver: " + xtxRows.byteSize() + " bytes for " + count + " Gram rows of " + columns + " features");
        }
        int at = from * columns;
        for (long i = 0; i < n; i++) sum[at + (int) i] += xtxRows.getAtIndex(NATIVE_FLOAT, i);
    }

    /**
     * Adds the part on and above the diagonal of rows [{@code from}, {@code from + count}) of a batch's f32 Xᵀ·X, given
     * as those rows' columns [{@code from}, columns) ({@code count × (columns − from)} f32 values in native byte order,
     * e.g. the engine's product of the rows' inputs with the inputs from column {@code from} on), into the f64 sum; the
     * entries below the diagonal are copied from their mirror images when the sum is read. Xᵀ·X is symmetric, so bands
     * of rows formed this way cover it with about half the products of the whole; the batch's tokens are counted once,
     * with {@link #addTokens}.
     */
    public synchronized void addGramUpper(MemorySegment band, int from, int count) {
        double[] sum = live();
        if (from < 0 || count < 0 || from > columns - count) {
            throw new IllegalArgumentException("HessianObserver: rows [" + from + ", " + (from + (long) count) + ") of a " + columns + "-feature Gram matrix");
        }
        int width = columns - from;
        if (band.byteSize() != (long) count * width * Float.BYTES) {
            throw new IllegalArgumentException("HessianObserver: " + band.byteSize() + " bytes for " + count + " Gram rows of " + width + " columns");
        }
        for (int r = 0; r < count; r++) {
            int row = from + r;
            int at = row * columns + row; // from the diagonal on
            long src = (long) r * width + r;
            for (int c = row; c < columns; c++) sum[at++] += band.getAtIndex(NATIVE_FLOAT, src++);
        }
        lowerPending = true;
    }

    /** Counts {@code rows} tokens whose Gram rows went in through {@link #addGramRows}. */
    public synchronized void addTokens(long rows) {
        if (rows < 0) throw new IllegalArgumentException("HessianObserver: negative token count " + rows);
        tokens += rows;
    }

    private static final ValueLayout.OfFloat NATIVE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.nativeOrder());

    @Override
    public synchronized long tokens() {
        return tokens;
    }

    @Override
    public int columns() {
        return columns;
    }

    /** S = Σ x·xᵀ (columns × columns, row-major, symmetric; a fresh copy); all zeros before any token. */
    public synchronized double[] sum() {
        return full().clone();
    }

    /**
     * S itself, handed over instead of copied (the caller may overwrite it): for the last user of a large Hessian —
     * a 7B model's down_proj input has 11008² entries, 0.97 GB in f64. The observer is spent afterwards.
     */
    public synchronized double[] takeSum() {
        double[] s = full();
        sum = null;
        return s;
    }

    private double[] live() {
        if (sum == null) throw new IllegalStateException("HessianObserver: its sum was handed over (takeSum)");
        return sum;
    }

    /** The sum with every entry in place: those below the diagonal copied from above it after {@link #addGramUpper}. */
    private double[] full() {
        double[] s = live();
        if (lowerPending) {
            for (int r = 0; r < columns; r++) for (int c = r + 1; c < columns; c++) s[c * columns + r] = s[r * columns + c];
            lowerPending = false;
        }
        return s;
    }

    /** H = 2/N · Σ x·xᵀ, N the tokens seen (a fresh copy); all zeros before any token. */
    public synchronized double[] hessian() {
        double[] h = full().clone();
        if (tokens == 0) return h;
        double f = 2.0 / tokens;
        for (int i = 0; i < h.length; i++) h[i] *= f;
        return h;
    }
}
