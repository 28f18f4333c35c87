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
 * <p>S is symmetric and only its upper triangle is kept ({@link PackedSymmetric}: half the n × n array, 0.48 GB
 * instead of 0.97 GB at a 7B down_proj's 11008 inputs); GPTQ's solve reads that triangle as it is ({@link #takePacked}),
 * other readers get the whole matrix ({@link #sum}, {@link #hessian}), each entry below the diagonal a copy of its
 * mirror image.
 *
 * <p>GPTQ's H is 2/n·S (the reference's {@code add_batch} keeps that running normalisation); GPTQ is invariant to
 * scaling H (its damping is relative to mean diag H), so callers may pass {@link #sum()} as is, and
 * {@link #hessian()} normalises by the token count N.
 */
public final class HessianObserver implements ActivationObserver {
    private final int columns;
    /** S's upper triangle; null once handed over ({@link #takePacked}). */
    private PackedSymmetric sum;
    private final LinalgKernels kernels;
    private long tokens;

    /** An observer for a Linear with {@code columns} = in_features. */
    public HessianObserver(int columns) {
        this(columns, Linalg.kernels());
    }

    public HessianObserver(int columns, LinalgKernels kernels) {
        if (columns <= 0) throw new IllegalArgumentException("HessianObserver: columns must be positive, got " + columns);
        this.columns = columns;
        this.sum = PackedSymmetric.zeros(columns);
        this.kernels = kernels;
    }

    /** Adds a batch of {@code rows} tokens ({@code rows × cols}, row-major; every value finite). */
    @Override
    public synchronized void add(float[] x, int rows, int cols) {
        ActivationObserver.checkBatch("HessianObserver", columns, x, rows, cols);
        for (int i = 0; i < x.length; i++) {
            if (!Float.isFinite(x[i])) throw new IllegalArgumentException("HessianObserver: input [" + i / cols + ", " + i % cols + "] is " + x[i]);
        }
        double[] s = live().upper();
        float[] batch = new float[Math.multiplyExact(columns, columns)];
        kernels.syrk(rows, cols, x, 0, cols, batch); // exactly symmetric
        for (int r = 0, at = 0; r < columns; r++) {
            for (int c = r; c < columns; c++) s[at++] += batch[r * columns + c];
        }
        tokens += rows;
    }

    /**
     * Adds a batch of {@code rows} tokens whose f32 product Xᵀ·X ({@code columns × columns}, row-major, symmetric)
     * was formed elsewhere: each entry on or above the diagonal is added into the f64 sum as is.
     */
    public synchronized void addGram(float[] xtx, int rows) {
        double[] s = live().upper();
        if (xtx.length != (long) columns * columns) {
            throw new IllegalArgumentException("HessianObserver: a Gram matrix of " + xtx.length + " values for " + columns + " features");
        }
        if (rows < 0) throw new IllegalArgumentException("HessianObserver: negative token count " + rows);
        for (int r = 0, at = 0; r < columns; r++) {
            for (int c = r; c < columns; c++) s[at++] += xtx[r * columns + c];
        }
        tokens += rows;
    }

    /**
     * Adds rows [{@code from}, {@code from + count}) of a batch's f32 Xᵀ·X, read where they lie ({@code count ×
     * columns} f32 values in native byte order, e.g. the engine's own buffer: no heap copy of an n² product), into the
     * f64 sum as {@link #addGram} does (each row from its diagonal on); the batch's tokens are counted once, with
     * {@link #addTokens}.
     */
    public synchronized void addGramRows(MemorySegment xtxRows, int from, int count) {
        PackedSymmetric p = live();
        if (from < 0 || count < 0 || from > columns - count) {
            throw new IllegalArgumentException("HessianObserver: rows [" + from + ", " + (from + (long) count) + ") of a " + columns + "-feature Gram matrix");
        }
        if (xtxRows.byteSize() != (long) count * columns * Float.BYTES) {
            throw new IllegalArgumentException("HessianObserver: " + xtxRows.byteSize() + " bytes for " + count + " Gram rows of " + columns + " features");
        }
        double[] s = p.upper();
        for (int r = 0; r < count; r++) {
            int row = from + r;
            int at = p.rowStart(row);
            long src = (long) r * columns + row; // from the diagonal on
            for (int c = row; c < columns; c++) s[at++] += xtxRows.getAtIndex(NATIVE_FLOAT, src++);
        }
    }

    /**
     * Adds the part on and above the diagonal of rows [{@code from}, {@code from + count}) of a batch's f32 Xᵀ·X, given
     * as those rows' columns [{@code from}, columns) ({@code count × (columns − from)} f32 values in native byte order,
     * e.g. the engine's product of the rows' inputs with the inputs from column {@code from} on), into the f64 sum.
     * Xᵀ·X is symmetric, so bands of rows formed this way cover it with about half the products of the whole; the
     * batch's tokens are counted once, with {@link #addTokens}.
     */
    public synchronized void addGramUpper(MemorySegment band, int from, int count) {
        PackedSymmetric p = live();
        if (from < 0 || count < 0 || from > columns - count) {
            throw new IllegalArgumentException("HessianObserver: rows [" + from + ", " + (from + (long) count) + ") of a " + columns + "-feature Gram matrix");
        }
        int width = columns - from;
        if (band.byteSize() != (long) count * width * Float.BYTES) {
            throw new IllegalArgumentException("HessianObserver: " + band.byteSize() + " bytes for " + count + " Gram rows of " + width + " columns");
        }
        double[] s = p.upper();
        for (int r = 0; r < count; r++) {
            int row = from + r;
            int at = p.rowStart(row); // from the diagonal on
            long src = (long) r * width + r;
            for (int c = row; c < columns; c++) s[at++] += band.getAtIndex(NATIVE_FLOAT, src++);
        }
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

    /** S = Σ x·xᵀ (columns × columns, row-major, symmetric; a fresh array); all zeros before any token. */
    public synchronized double[] sum() {
        return live().toFull();
    }

    /**
     * S as a whole n × n array for its last user; the observer is spent afterwards (its triangle is dropped, so the
     * full array is the only copy that stays).
     */
    public synchronized double[] takeSum() {
        double[] s = live().toFull();
        sum = null;
        return s;
    }

    /** S's upper triangle (a copy): for one of several users of the same Hessian (GPTQ's q, k and v share theirs). */
    public synchronized PackedSymmetric packedSum() {
        return live().copy();
    }

    /**
     * S's upper triangle itself, handed over instead of copied (the caller may overwrite it): for the last user of a
     * large Hessian. The observer is spent afterwards.
     */
    public synchronized PackedSymmetric takePacked() {
        PackedSymmetric s = live();
        sum = null;
        return s;
    }

    private PackedSymmetric live() {
        if (sum == null) throw new IllegalStateException("HessianObserver: its sum was handed over (takeSum / takePacked)");
        return sum;
    }

    /** H = 2/N · Σ x·xᵀ, N the tokens seen (a fresh array); all zeros before any token. */
    public synchronized double[] hessian() {
        double[] h = live().toFull();
        if (tokens == 0) return h;
        double f = 2.0 / tokens;
        for (int i = 0; i < h.length; i++) h[i] *= f;
        return h;
    }
}
