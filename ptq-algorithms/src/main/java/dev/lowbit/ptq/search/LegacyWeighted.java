package dev.lowbit.ptq.search;

import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlBlock;
import dev.lowbit.io.ggml.GgmlType;
import java.lang.foreign.MemorySegment;

/**
 * The importance-weighted searches of the legacy 32-element types ({@code quantize_row_q4_0_impl},
 * {@code _q4_1_impl}, {@code _q5_0_impl}, {@code _q5_1_impl}), which llama-quantize uses instead of the reference
 * quantizers whenever it has an importance matrix. The codec packs what they choose.
 *
 * <p>Per row: σ² = Σx²/n over the whole row (f32); per block the element weights are
 * {@code w_j = importance_j · sqrt(σ² + x_j²)}. Symmetric types (Q4_0, Q5_0) then take
 * {@code make_qx_quants(32, nmax = 8 | 16, rmse_type 1, w)} (levels 0..2·nmax−1, x = (q − nmax)·d); asymmetric ones
 * (Q4_1, Q5_1) take {@code make_qkx3_quants(32, nmax = 15 | 31, w, rmin −0.9, rdelta 0.05, 36 steps)} and store
 * d and m = −(the returned min).
 */
public final class LegacyWeighted {
    private static final int QK = 32;

    private LegacyWeighted() {}

    /** σ² of the row: Σx²/n in f32, summed in order. */
    static float sigma2(float[] x, int off, int n) {
        float s = 0;
        for (int j = 0; j < n; j++) s += x[off + j] * x[off + j];
        return s / n;
    }

    /** Whether {@code type} is one of the four legacy types with a weighted search. */
    public static boolean covers(GgmlType type) {
        return type == GgmlType.Q4_0 || type == GgmlType.Q4_1 || type == GgmlType.Q5_0 || type == GgmlType.Q5_1;
    }

    /** The weighted search on {@code x[off .. off+n)}, σ² taken from these values (llama-quantize's rows). */
    public static void quantizeRow(GgmlType type, float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
        RowCheck.check(type.name(), x, off, n, importance, QK);
        quantizeRow(type, x, off, n, importance, sigma2(x, off, n), dst, dstOff);
    }

    /**
     * The weighted search of Q4_0, Q4_1, Q5_0 or Q5_1 on {@code x[off .. off+n)} with σ² given instead of taken from
     * these values: for a caller that searches a few blocks of a longer row (GPTQ fits one block at a time, with σ²
     * of the whole row).
     */
    public static void quantizeRow(GgmlType type, float[] x, int off, int n, float[] importance, float sigma2,
                                   MemorySegment dst, long dstOff) {
        if (importance == null) throw new IllegalArgumentException(type + ": the weighted search needs importance weights");
        if (!covers(type)) throw new IllegalArgumentException(type + " is not a legacy 32-element type with a weighted search");
        RowCheck.check(type.name(), x, off, n, importance, QK);
        BlockCodec codec = BlockCodecs.forType(type);
        GgmlBlock block = new GgmlBlock(type);
        float[] w = new float[QK];
        float[] theMin = new float[1];
        int[] aux = new int[QK];
        for (int i = 0; i < n / QK; i++) {
            int base = off + i * QK;
            for (int j = 0; j < QK; j++) w[j] = importance[i * QK + j] * (float) Math.sqrt(sigma2 + x[base + j] * x[base + j]);
            searchBlock(type, x, base, w, block, theMin, aux);
            codec.pack(block, dst, dstOff + (long) type.typeSize() * i);
        }
    }

    /** One block's d (and m) and codes, given its element weights {@code w}. */
    private static void searchBlock(GgmlType type, float[] x, int base, float[] w, GgmlBlock block, float[] theMin, int[] aux) {
        switch (type) {
            case Q4_0, Q5_0 -> block.d = KQuantSearch.makeQxQuants(QK, type == GgmlType.Q5_0 ? 16 : 8, x, base, block.codes, 0, 1, w, 0);
            case Q4_1, Q5_1 -> {
                block.d = KQuantSearch.makeQkx3Quants(QK, type == GgmlType.Q5_1 ? 31 : 15, x, base, w, block.codes, 0,
                        theMin, aux, -0.9f, 0.05f, 36, false);
                block.dmin = -theMin[0];
            }
            default -> throw new IllegalArgumentException(type + " is not a legacy 32-element type with a weighted search");
        }
    }
}
