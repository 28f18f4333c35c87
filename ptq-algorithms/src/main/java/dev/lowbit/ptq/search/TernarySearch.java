package dev.lowbit.ptq.search;

import dev.lowbit.io.ggml.GgmlBlock;

/**
 * The choice of TQ1_0 / TQ2_0 blocks (256 ternary codes under fp16 d; x = (t − 1)·d): ggml's
 * {@code quantize_row_tq1_0_ref} / {@code tq2_0_ref}, d = absmax of the block, t = lroundf(x·(1/d)) + 1 ∈ {0, 1, 2}
 * with C's {@code lroundf} (half away from zero) on the f32 product. ggml has no weighted variant: importance is ignored.
 */
final class TernarySearch implements BlockSearch {
    @Override
    public void search(float[] x, int xo, float[] importance, int io, GgmlBlock out) {
        float d = 0f;
        for (int j = 0; j < 256; j++) d = Math.max(d, Math.abs(x[xo + j]));
        float id = d != 0 ? 1.0f / d : 0.0f;
        out.d = d;
        for (int j = 0; j < 256; j++) out.codes[j] = trit(x[xo + j], id);
    }

    /** t = lroundf(v·id) + 1, rounding half away from zero (exact: the f32 product is widened before adding ½). */
    static int trit(float v, float id) {
        float p = v * id;
        double r = Math.floor(Math.abs((double) p) + 0.5);
        return (int) Math.copySign(r, p) + 1;
    }
}
