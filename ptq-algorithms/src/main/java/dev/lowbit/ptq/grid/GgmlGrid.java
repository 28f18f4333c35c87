package dev.lowbit.ptq.grid;

import dev.lowbit.io.ggml.BlockGrid;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.ptq.search.GgmlSearch;
import dev.lowbit.ptq.search.GgmlSearches;
import dev.lowbit.ptq.search.LegacyWeighted;
import java.lang.foreign.MemorySegment;

/**
 * A ggml block type as GPTQ's grid. Blocks lie along the input dimension (a GGUF row is one output channel's
 * weights, {@code dims[0] = in_features}), so GPTQ's columns are a block row's elements and every block is a run of
 * {@link GgmlType#blockSize()} physical columns: 32 for Q8_0/Q4_0/Q4_1/Q5_0/Q5_1, a 256-column super-block for the
 * k-quants.
 *
 * <p>When the sweep first reaches a column of block g, each row's block is fitted by the type's own scale search
 * (llama.cpp's, {@link GgmlSearch}) on the
 * <em>error-compensated</em> weights of the whole block, with the damped Hessian diagonal as the importance
 * weights (llama.cpp's imatrix is the same statistic, mean x², up to a factor; the legacy types' search also
 * takes σ² of the whole row, which is that of the row as GPTQ starts). That writes the block header (d,
 * dmin, sub-block scales and mins) into the output; {@link BlockGrid#parameters} then gives every element its
 * (a, b), and GPTQ rounds each column as it reaches it: k = clamp(rint((x − b)/a)), ŵ = a·k + b in the dequantizer's
 * arithmetic. {@link #packed()} finally writes the chosen codes under the fitted headers, so the bytes decode to
 * exactly the ŵ the sweep used.
 *
 * <p>With a diagonal Hessian nothing is pushed forward, and each block comes out as the importance-weighted search
 * quantized it (for the k-quants, whose last step is the same rounding, byte for byte).
 */
public final class GgmlGrid implements Grid {
    private final BlockGrid grid;
    private final GgmlSearch search;
    private final boolean weighted;
    private final int rows, cols, block;
    private final long rowBytes;
    private final int typeSize;
    private final byte[] out;
    private final MemorySegment seg;
    private final float[] a, b;
    private final int[] k;
    private final boolean[] fitted;
    private final float[] x, importance;
    private final boolean legacyWeighted;
    private float[] rowSigma2;

    /**
     * @param weighted pass the Hessian diagonal to the search as importance weights (otherwise the type's
     *                 unweighted reference search)
     */
    public GgmlGrid(GgmlType type, boolean weighted, int rows, int cols) {
        this.grid = BlockGrid.of(type);
        if (grid == null) throw new IllegalArgumentException("GPTQ cannot target " + type + ": its values are not an integer grid per element");
        this.block = type.blockSize();
        if (cols % block != 0) {
            throw new IllegalArgumentException(type + " needs rows that are a multiple of " + block + " elements, got " + cols);
        }
        this.search = GgmlSearches.forType(type);
        this.weighted = weighted;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = type.byteSizeOf(cols);
        this.typeSize = (int) type.typeSize();
        this.out = new byte[Math.toIntExact(rows * rowBytes)];
        this.seg = MemorySegment.ofArray(out);
        this.a = new float[rows * cols];
        this.b = new float[rows * cols];
        this.k = new int[rows * cols];
        this.fitted = new boolean[cols / block];
        this.x = new float[block];
        this.importance = new float[block];
        this.legacyWeighted = weighted && LegacyWeighted.covers(type);
    }

    /** The legacy types' weighted search takes σ² = Σx²/n of the whole row; GPTQ gives it the row as it starts. */
    @Override
    public void beforeSweep(float[] w, int rows, int cols) {
        if (!legacyWeighted) return;
        rowSigma2 = new float[rows];
        for (int r = 0; r < rows; r++) {
            float s = 0;
            for (int c = 0; c < cols; c++) s += w[r * cols + c] * w[r * cols + c];
            rowSigma2[r] = s / cols;
        }
    }

    public GgmlType type() {
        return grid.type();
    }

    @Override
    public void reach(int j, int c, Sweep sweep) {
        int g = c / block;
        if (fitted[g]) return;
        fitted[g] = true;
        int c0 = g * block;
        for (int i = 0; i < block; i++) importance[i] = (float) sweep.importance(c0 + i);
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < block; i++) x[i] = sweep.current(r, c0 + i);
            long blk = r * rowBytes + (long) g * typeSize;
            if (legacyWeighted) LegacyWeighted.quantizeRow(grid.type(), x, 0, block, importance, rowSigma2[r], seg, blk);
            else search.quantizeRow(x, 0, block, weighted ? importance : null, seg, blk);
            grid.parameters(seg, blk, a, b, r * cols + c0);
        }
    }

    @Override
    public float quantize(int r, int j, int c, float xv) {
        int at = r * cols + c;
        float s = a[at], m = b[at];
        int q = 0;
        if (s != 0) {
            q = (int) Math.rint((xv - m) / s);
            q = Math.max(grid.kMin(), Math.min(grid.kMax(), q));
        } else if (grid.hasMin()) {
            q = grid.kMin();
        }
        k[at] = q;
        return grid.value(s, m, q);
    }

    /** The dequantized values the sweep used, rows × cols (for tests and for the model that runs on). */
    public float[] values() {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = grid.value(a[i], b[i], k[i]);
        return v;
    }

    /** The ggml rows, {@code rows × rowBytes(cols)} bytes, row r at {@code r · rowBytes}: headers from the fits, codes from the sweep. */
    public byte[] packed() {
        for (int g = 0; g < fitted.length; g++) {
            if (!fitted[g]) throw new IllegalStateException("block column " + g + " was never reached by the sweep");
        }
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < fitted.length; g++) {
                grid.putCodes(seg, r * rowBytes + (long) g * typeSize, k, r * cols + g * block);
            }
        }
        return out;
    }
}
