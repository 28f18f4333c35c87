package dev.lowbit.ptq.observe;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The diagonal blocks of S = Σ x·xᵀ for consecutive groups of {@code group} input channels: block b covers channels
 * [b·G, min(n, (b+1)·G)) and holds S restricted to them (len × len, row-major, f64), the blocks one after another
 * (block b starts at b·G², as only the last may be shorter). It is all a per-group search needs (AWQ's clip search
 * scores a group's clipping by δᵀ·S_g·δ), at n·G values instead of n²: a 7B model's down_proj input (n = 11008,
 * G = 128) takes 11 MB instead of 0.97 GB. {@code group} ≤ 0 or ≥ n is one block: the whole S.
 *
 * <p>Products formed elsewhere (an f32 Xᵀ·X on the engine, or a part of one) go in through {@link #addProduct}; each
 * entry that falls inside a block is added into its f64 sum as is, so the blocks equal the same entries of a
 * {@link HessianObserver} fed the same products. Heap batches ({@link #add}) are summed here in f64.
 */
public final class GroupGramObserver implements ActivationObserver {
    private static final ValueLayout.OfFloat NATIVE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.nativeOrder());

    private final int columns;
    private final int group;
    private double[] sum;
    private long tokens;

    /** An observer for {@code columns} = in_features and groups of {@code group} channels (≤ 0: one block). */
    public GroupGramObserver(int columns, int group) {
        if (columns <= 0) throw new IllegalArgumentException("GroupGramObserver: columns must be positive, got " + columns);
        this.columns = columns;
        this.group = group <= 0 || group > columns ? columns : group;
        this.sum = new double[Math.toIntExact(size(columns, this.group))];
    }

    /** Values the blocks of {@code columns} channels in groups of {@code group} take: Σ len_b². */
    public static long size(int columns, int group) {
        long full = columns / group, last = columns % group;
        return full * group * group + last * last;
    }

    /** Where block {@code b} starts in {@link #sum()}: b·G². */
    public static int offset(int group, int b) {
        return Math.toIntExact((long) b * group * group);
    }

    /** The group width G (the whole input when there is one block). */
    public int group() {
        return group;
    }

    @Override
    public synchronized void add(float[] x, int rows, int cols) {
        ActivationObserver.checkBatch("GroupGramObserver", columns, x, rows, cols);
        for (int i = 0; i < x.length; i++) {
            if (!Float.isFinite(x[i])) throw new IllegalArgumentException("GroupGramObserver: input [" + i / cols + ", " + i % cols + "] is " + x[i]);
        }
        double[] s = live();
        for (int from = 0, b = 0; from < columns; from += group, b++) {
            int len = Math.min(group, columns - from), at = offset(group, b);
            for (int t = 0; t < rows; t++) {
                int base = t * cols + from;
                for (int i = 0; i < len; i++) {
                    double xi = x[base + i];
                    if (xi == 0) continue;
                    int row = at + i * len;
                    for (int j = 0; j < len; j++) s[row + j] += xi * x[base + j];
                }
            }
        }
        tokens += rows;
    }

    /**
     * Adds the part of a batch's f32 product Xᵀ·X at rows [{@code rowFrom}, +{@code rowCount}) and columns
     * [{@code colFrom}, +{@code colCount}) ({@code rowCount × colCount} values, row-major, native byte order, e.g. the
     * engine's own buffer): the entries inside a block go into its f64 sum, the rest are ignored. Tokens are counted
     * once per batch with {@link #addTokens}.
     */
    public synchronized void addProduct(MemorySegment product, int rowFrom, int rowCount, int colFrom, int colCount) {
        double[] s = live();
        if (rowFrom < 0 || rowCount < 0 || rowFrom > columns - rowCount || colFrom < 0 || colCount < 0 || colFrom > columns - colCount) {
            throw new IllegalArgumentException("GroupGramObserver: product part [" + rowFrom + ", +" + rowCount + ") × [" + colFrom
                    + ", +" + colCount + ") of a " + columns + "-feature Gram matrix");
        }
        if (product.byteSize() != (long) rowCount * colCount * Float.BYTES) {
            throw new IllegalArgumentException("GroupGramObserver: " + product.byteSize() + " bytes for a " + rowCount + " × " + colCount + " product");
        }
        for (int r = 0; r < rowCount; r++) {
            int i = rowFrom + r, b = i / group, gFrom = b * group, len = Math.min(group, columns - gFrom);
            int from = Math.max(gFrom, colFrom), to = Math.min(gFrom + len, colFrom + colCount);
            int at = offset(group, b) + (i - gFrom) * len - gFrom;
            long src = (long) r * colCount - colFrom;
            for (int j = from; j < to; j++) s[at + j] += product.getAtIndex(NATIVE_FLOAT, src + j);
        }
    }

    /** Counts {@code rows} tokens whose products went in through {@link #addProduct}. */
    public synchronized void addTokens(long rows) {
        if (rows < 0) throw new IllegalArgumentException("GroupGramObserver: negative token count " + rows);
        tokens += rows;
    }

    @Override
    public synchronized long tokens() {
        return tokens;
    }

    @Override
    public int columns() {
        return columns;
    }

    /** The blocks of S (a fresh copy); all zeros before any token. */
    public synchronized double[] sum() {
        return live().clone();
    }

    /** The blocks of S handed over instead of copied; the observer is spent afterwards. */
    public synchronized double[] takeSum() {
        double[] s = live();
        sum = null;
        return s;
    }

    private double[] live() {
        if (sum == null) throw new IllegalStateException("GroupGramObserver: its sum was handed over (takeSum)");
        return sum;
    }
}
