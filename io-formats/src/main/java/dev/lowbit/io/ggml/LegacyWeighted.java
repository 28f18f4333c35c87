package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The importance-weighted quantizers of the legacy 32-element types ({@code quantize_row_q4_0_impl},
 * {@code _q4_1_impl}, {@code _q5_0_impl}, {@code _q5_1_impl}), which llama-quantize uses instead of the reference
 * quantizers whenever it has an importance matrix.
 *
 * <p>Per row: σ² = Σx²/n over the whole row (f32); per block the element weights are
 * {@code w_j = importance_j · sqrt(σ² + x_j²)}. Symmetric types (Q4_0, Q5_0) then take
 * {@code make_qx_quants(32, nmax = 8 | 16, rmse_type 1, w)} (levels 0..2·nmax−1, x = (q − nmax)·d); asymmetric ones
 * (Q4_1, Q5_1) take {@code make_qkx3_quants(32, nmax = 15 | 31, w, rmin −0.9, rdelta 0.05, 36 steps)} and store
 * d and m = −(the returned min). Byte layouts are the reference codecs'.
 */
public final class LegacyWeighted {
    private static final int QK = 32;

    private LegacyWeighted() {}

    /** σ² of the row: Σx²/n in f32, summed in order. */
    private static float sigma2(float[] x, int off, int n) {
        float s = 0;
        for (int j = 0; j < n; j++) s += x[off + j] * x[off + j];
        return s / n;
    }

    private static void weights(float[] x, int base, float[] importance, int io, float sigma2, float[] w) {
        for (int j = 0; j < QK; j++) w[j] = importance[io + j] * (float) Math.sqrt(sigma2 + x[base + j] * x[base + j]);
    }

    /**
     * The weighted search of Q4_0, Q4_1, Q5_0 or Q5_1 on {@code x[off .. off+n)} with σ² given instead of taken from
     * these values: for a caller that searches a few blocks of a longer row (GPTQ fits one block at a time, with σ²
     * of the whole row).
     */
    public static void quantizeRow(GgmlType type, float[] x, int off, int n, float[] importance, float sigma2,
                                   MemorySegment dst, long dstOff) {
        if (importance == null) throw new IllegalArgumentException(type + ": the weighted search needs importance weights");
        switch (type) {
            case Q4_0, Q5_0 -> quantizeSymmetric(type, x, off, n, importance, sigma2, dst, dstOff);
            case Q4_1, Q5_1 -> quantizeWithMin(type, x, off, n, importance, sigma2, dst, dstOff);
            default -> throw new IllegalArgumentException(type + " is not a legacy 32-element type with a weighted search");
        }
    }

    /** Q4_0 ({@code nmax} 8) or Q5_0 ({@code nmax} 16), symmetric. */
    static void quantizeSymmetric(GgmlType type, float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
        KQuantBits.checkRow(type.name(), x, off, n, importance, QK);
        quantizeSymmetric(type, x, off, n, importance, sigma2(x, off, n), dst, dstOff);
    }

    private static void quantizeSymmetric(GgmlType type, float[] x, int off, int n, float[] importance, float s2,
                                          MemorySegment dst, long dstOff) {
        int nb = Blocks.blocks(type, n);
        KQuantBits.checkRow(type.name(), x, off, n, importance, QK);
        boolean five = type == GgmlType.Q5_0;
        int nmax = five ? 16 : 8;
        float[] w = new float[QK];
        int[] L = new int[QK];
        for (int i = 0; i < nb; i++) {
            int base = off + i * QK;
            long at = dstOff + (long) type.typeSize() * i;
            weights(x, base, importance, i * QK, s2, w);
            float d = KQuantSearch.makeQxQuants(QK, nmax, x, base, L, 0, 1, w, 0);
            Blocks.putF16(dst, at, d);
            int qh = 0;
            for (int j = 0; j < QK / 2; j++) {
                int q0 = L[j], q1 = L[j + QK / 2];
                long qs = at + (five ? 6 : 2) + j;
                dst.set(ValueLayout.JAVA_BYTE, qs, (byte) ((q0 & 0xF) | (q1 & 0xF) << 4));
                qh |= (q0 >>> 4 & 1) << j;
                qh |= (q1 >>> 4 & 1) << (j + QK / 2);
            }
            if (five) dst.set(Blocks.INT_LE, at + 2, qh);
        }
    }

    /** Q4_1 ({@code nmax} 15) or Q5_1 ({@code nmax} 31), with a min. */
    static void quantizeWithMin(GgmlType type, float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
        KQuantBits.checkRow(type.name(), x, off, n, importance, QK);
        quantizeWithMin(type, x, off, n, importance, sigma2(x, off, n), dst, dstOff);
    }

    private static void quantizeWithMin(GgmlType type, float[] x, int off, int n, float[] importance, float s2,
                                        MemorySegment dst, long dstOff) {
        int nb = Blocks.blocks(type, n);
        KQuantBits.checkRow(type.name(), x, off, n, importance, QK);
        boolean five = type == GgmlType.Q5_1;
        int nmax = five ? 31 : 15;
        float[] w = new float[QK];
        int[] L = new int[QK], aux = new int[QK];
        float[] theMin = new float[1];
        for (int i = 0; i < nb; i++) {
            int base = off + i * QK;
            long at = dstOff + (long) type.typeSize() * i;
            weights(x, base, importance, i * QK, s2, w);
            float d = KQuantSearch.makeQkx3Quants(QK, nmax, x, base, w, L, 0, theMin, aux, -0.9f, 0.05f, 36, false);
            Blocks.putF16(dst, at, d);
            Blocks.putF16(dst, at + 2, -theMin[0]);
            int qh = 0;
            for (int j = 0; j < QK / 2; j++) {
                int q0 = L[j], q1 = L[j + QK / 2];
                long qs = at + (five ? 8 : 4) + j;
                dst.set(ValueLayout.JAVA_BYTE, qs, (byte) ((q0 & 0xF) | (q1 & 0xF) << 4));
                qh |= (q0 >>> 4 & 1) << j;
                qh |= (q1 >>> 4 & 1) << (j + QK / 2);
            }
            if (five) dst.set(Blocks.INT_LE, at + 4, qh);
        }
    }
}
