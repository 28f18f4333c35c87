package dev.lowbit.kernels.trit;

/** The scalar reference of {@link TritLut}: per row block, per group, per byte column, 16 rows' table lookups. */
final class ScalarTritLut implements TritLut {
    static final ScalarTritLut INSTANCE = new ScalarTritLut();

    private ScalarTritLut() {}

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void gemv(TritMatrix w, float[] x, int xOff, float[] y, int yOff) {
        float[] lut = new float[TritLut.tableLength(w.cols)];
        TritLut.buildTables(x, xOff, w.cols, lut);
        final int B = TritMatrix.BLOCK;
        float[] out = new float[B], acc = new float[B];
        for (int rb = 0; rb < w.rowBlocks; rb++) {
            java.util.Arrays.fill(out, 0f);
            for (int p = 0; p < w.planes; p++) {
                int cbase = (p * w.rowBlocks + rb) * w.byteCols * B;
                int abase = (p * w.rowBlocks + rb) * w.groups * B;
                for (int g = 0; g < w.groups; g++) {
                    java.util.Arrays.fill(acc, 0f);
                    int m0 = g * w.groupBytes, m1 = Math.min(w.byteCols, m0 + w.groupBytes);
                    for (int m = m0; m < m1; m++) {
                        int lo = m * 32, hi = lo + 16, at = cbase + m * B;
                        for (int i = 0; i < B; i++) {
                            int b = w.codes[at + i];
                            acc[i] += lut[lo + (b & 15)];
                            acc[i] += lut[hi + (b >> 4 & 15)];
                        }
                    }
                    for (int i = 0; i < B; i++) out[i] = Math.fma(w.alpha[abase + g * B + i], acc[i], out[i]);
                }
            }
            int n = Math.min(B, w.rows - rb * B);
            System.arraycopy(out, 0, y, yOff + rb * B, n);
        }
    }
}
