package dev.lowbit.ptq.search;

import static dev.lowbit.ptq.search.KQuantSearch.nearestInt;

import dev.lowbit.io.ggml.GgmlBlock;

/**
 * The search of Q3_K super-blocks (sixteen sub-blocks of 16 with 6-bit scales, bias 32, under fp16 d;
 * x = d·(s − 32)·(q − 4)). Without importance {@code quantize_row_q3_K_ref}: {@code make_q3_quants} per sub-block,
 * 6-bit scales relative to the one of largest magnitude (iscale = −32/max); with importance
 * {@code quantize_row_q3_K_impl}: {@code make_qx_quants} with weights imp·√(σ² + x²), σ² = 2·Σx²/256, and again
 * {@code make_qx_quants}(16, 32) for the scales, weighted by the sub-blocks' weight sums. Codes are then recomputed
 * from the stored d·(s − 32).
 */
final class Q3KSearch implements BlockSearch {
    private final float[] scales = new float[16];
    private final float[] weight = new float[16];
    private final float[] sw = new float[16];

    @Override
    public void search(float[] x, int xo, float[] importance, int io, GgmlBlock out) {
        int[] L = out.codes;
        float d;
        if (importance == null) {
            float maxScale = 0, amax = 0;
            for (int j = 0; j < 16; j++) {
                scales[j] = KQuantSearch.makeQ3Quants(16, 4, x, xo + 16 * j, L, 16 * j, true);
                float scale = Math.abs(scales[j]);
                if (scale > amax) {
                    amax = scale;
                    maxScale = scales[j];
                }
            }
            if (maxScale != 0) {
                float iscale = -32f / maxScale;
                for (int j = 0; j < 16; j++) {
                    int l = (byte) nearestInt(iscale * scales[j]);
                    out.scales[j] = Math.max(-32, Math.min(31, l)) + 32;
                }
                d = 1 / iscale;
            } else {
                java.util.Arrays.fill(out.scales, 0);
                d = 0f;
            }
        } else {
            float sumx2 = 0;
            for (int j = 0; j < 256; j++) sumx2 += x[xo + j] * x[xo + j];
            float sigma2 = 2 * sumx2 / 256;
            for (int j = 0; j < 16; j++) {
                for (int l = 0; l < 16; l++) {
                    float xv = x[xo + 16 * j + l];
                    weight[l] = importance[io + 16 * j + l] * (float) Math.sqrt(sigma2 + xv * xv);
                }
                float sumw = 0;
                for (int l = 0; l < 16; l++) sumw += weight[l];
                sw[j] = sumw;
                scales[j] = KQuantSearch.makeQxQuants(16, 4, x, xo + 16 * j, L, 16 * j, 1, weight, 0);
            }
            d = KQuantSearch.makeQxQuants(16, 32, scales, 0, out.scales, 0, 1, sw, 0);
        }
        out.d = Fp16.round(d);
        for (int j = 0; j < 16; j++) {
            float dl = out.d * (out.scales[j] - 32);
            if (dl == 0) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = nearestInt(x[xo + 16 * j + ii] / dl);
                L[16 * j + ii] = Math.max(-4, Math.min(3, l)) + 4;
            }
        }
    }
}
