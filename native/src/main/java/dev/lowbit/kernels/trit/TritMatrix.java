package dev.lowbit.kernels.trit;

/**
 * A trit-plane weight matrix W[r, c] = Σₚ αₚ[r, c / g] · tₚ[r, c] (t ∈ {−1, 0, 1}) in the layout the lookup-table kernels
 * read. Codes q = t + 1 ∈ {0, 1, 2} are grouped in pairs of columns: the nibble of pair k is q[2k] | q[2k+1] << 2 (an
 * index 0..15 into the pair's table of 16 partial sums, of which 9 are used), and one byte holds pairs 2m (low nibble)
 * and 2m+1 (high nibble), i.e. four columns. Rows go in blocks of {@link #BLOCK}:
 * <pre>
 *   codes [plane][row block][byte column m][row in block]     (BLOCK bytes per byte column)
 *   alpha [plane][row block][group][row in block]             (f32)
 * </pre>
 * Rows past {@code rows} and columns past {@code cols} are padding with t = 0 (q = 1) and α = 0. A group spans
 * {@code groupSize / 4} byte columns, so groupSize must be a multiple of 4 unless there is one group per row.
 */
public final class TritMatrix {
    /** Rows per block: one 512-bit vector of f32 lanes. */
    public static final int BLOCK = 16;

    final int planes, rows, cols, groupSize, groups, rowBlocks, byteCols, groupBytes;
    final byte[] codes;
    final float[] alpha;

    private TritMatrix(int planes, int rows, int cols, int groupSize) {
        if (planes < 1 || rows < 1 || cols < 1 || groupSize < 1) throw new IllegalArgumentException("empty trit matrix");
        if (cols % groupSize != 0) throw new IllegalArgumentException("group size " + groupSize + " does not divide " + cols);
        this.groups = cols / groupSize;
        if (groups > 1 && groupSize % 4 != 0) {
            throw new IllegalArgumentException("the LUT kernel needs groups of a multiple of 4 columns, got " + groupSize);
        }
        this.planes = planes;
        this.rows = rows;
        this.cols = cols;
        this.groupSize = groupSize;
        this.rowBlocks = Math.ceilDiv(rows, BLOCK);
        this.byteCols = Math.ceilDiv(cols, 4);
        this.groupBytes = groups == 1 ? byteCols : groupSize / 4;
        this.codes = new byte[Math.multiplyExact(Math.multiplyExact(planes, rowBlocks), byteCols * BLOCK)];
        this.alpha = new float[planes * rowBlocks * groups * BLOCK];
        java.util.Arrays.fill(codes, (byte) 0x55); // every nibble (1, 1): t = 0
    }

    /**
     * Builds the kernel layout from per-plane codes ({@code rows × cols}, q ∈ {0, 1, 2}, row-major) and scales
     * ({@code rows × groups}, row-major).
     */
    public static TritMatrix of(int rows, int cols, int groupSize, byte[][] codes, float[][] scales) {
        TritMatrix m = new TritMatrix(codes.length, rows, cols, groupSize);
        if (scales.length != codes.length) throw new IllegalArgumentException(codes.length + " code planes, " + scales.length + " scale planes");
        for (int p = 0; p < m.planes; p++) {
            if (codes[p].length != (long) rows * cols || scales[p].length != (long) rows * m.groups) {
                throw new IllegalArgumentException("plane " + p + ": codes/scales do not match " + rows + " × " + cols + " / " + m.groups + " groups");
            }
            for (int r = 0; r < rows; r++) {
                int rb = r / BLOCK, i = r % BLOCK;
                int base = (p * m.rowBlocks + rb) * m.byteCols * BLOCK;
                for (int mc = 0; mc < m.byteCols; mc++) {
                    int v = 0;
                    for (int n = 0; n < 4; n++) {
                        int c = mc * 4 + n;
                        int q = c < cols ? codes[p][r * cols + c] : 1;
                        if (q < 0 || q > 2) throw new IllegalArgumentException("plane " + p + ": code " + q + " at [" + r + ", " + c + "]");
                        v |= q << (2 * n);
                    }
                    m.codes[base + mc * BLOCK + i] = (byte) v;
                }
                for (int g = 0; g < m.groups; g++) {
                    m.alpha[((p * m.rowBlocks + rb) * m.groups + g) * BLOCK + i] = scales[p][r * m.groups + g];
                }
            }
        }
        return m;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public int planes() {
        return planes;
    }

    /** Bytes the kernel reads per GEMV: codes plus scales. */
    public long bytes() {
        return codes.length + 4L * alpha.length;
    }

    /** The f32 matrix (rows × cols, row-major) these codes stand for: Σₚ αₚ·tₚ in plane order. */
    public float[] dequantize() {
        float[] w = new float[rows * cols];
        dequantizeInto(w);
        return w;
    }

    /** Row r of {@link #dequantize()} into {@code out[0..cols)}, plane by plane (what a runtime without the LUT does). */
    public void dequantizeRow(int r, float[] out) {
        java.util.Arrays.fill(out, 0, cols, 0f);
        int rb = r / BLOCK, i = r % BLOCK;
        for (int p = 0; p < planes; p++) {
            int base = (p * rowBlocks + rb) * byteCols * BLOCK + i;
            int abase = (p * rowBlocks + rb) * groups * BLOCK + i;
            for (int g = 0; g < groups; g++) {
                float a = alpha[abase + g * BLOCK];
                float[] v = {-a, 0f, a, 0f};
                int c1 = Math.min(cols, (g + 1) * groupSize);
                for (int c = g * groupSize; c < c1; c += 4) {
                    int b = codes[base + (c >> 2) * BLOCK];
                    for (int n = 0; n < 4 && c + n < c1; n++) out[c + n] += v[b >> (2 * n) & 3];
                }
            }
        }
    }

    /** {@link #dequantize()} into {@code w}. */
    public void dequantizeInto(float[] w) {
        java.util.Arrays.fill(w, 0, rows * cols, 0f);
        for (int p = 0; p < planes; p++) {
            for (int r = 0; r < rows; r++) {
                int rb = r / BLOCK, i = r % BLOCK;
                int base = (p * rowBlocks + rb) * byteCols * BLOCK;
                int abase = (p * rowBlocks + rb) * groups * BLOCK;
                for (int c = 0; c < cols; c++) {
                    int q = codes[base + (c >> 2) * BLOCK + i] >> (2 * (c & 3)) & 3;
                    float a = alpha[abase + (c / groupSize) * BLOCK + i];
                    w[r * cols + c] += a * (q - 1);
                }
            }
        }
    }
}
