package dev.lowbit.ptq.search;

import static dev.lowbit.ptq.search.KQuantSearch.nearestInt;

import dev.lowbit.io.ggml.GgmlBlock;
import dev.lowbit.kernels.kquant.KQuantKernels;
import dev.lowbit.kernels.kquant.Qkx2Quants;

/**
 * The search of Q2_K super-blocks (sixteen sub-blocks of 16, each a 4-bit scale and a 4-bit min under fp16 d and
 * dmin; x = (d·sc)·q − (dmin·m)). Without importance {@code quantize_row_q2_K_ref}: {@code make_qkx2_quants} per
 * sub-block with weights |x|, then scales and mins relative to their maxima; with importance
 * {@code quantize_row_q2_K_impl}: {@code make_qkx3_quants} with weights imp·√(σ² + x²), σ² = Σx²/256, and
 * {@code make_qp_quants} for the 4-bit scales and mins. Codes are then recomputed from the stored values.
 */
final class Q2KSearch implements BlockSearch {
    private final int[] laux = new int[16];
    private final float[] weights = new float[256];
    private final Qkx2Quants qkx2 = KQuantKernels.newChosen();
    private final float[] mins = new float[16];
    private final float[] scales = new float[16];
    private final float[] theMin = new float[1];
    private final float[] sw = new float[16];
    private final int[] ls = new int[16];
    private final int[] lm = new int[16];
    private final int[] sc = new int[16];

    @Override
    public void search(float[] x, int xo, float[] importance, int io, GgmlBlock out) {
        int[] L = out.codes;
        java.util.Arrays.fill(sc, 0);
        float d, dmin;
        if (importance == null) {
            float maxScale = 0, maxMin = 0;
            for (int l = 0; l < 256; l++) weights[l] = Math.abs(x[xo + l]);
            qkx2.quantize(16, 16, 3, x, xo, weights, L, 0, scales, mins, 0, -0.5f, 0.1f, 15, true);
            for (int j = 0; j < 16; j++) {
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            if (maxScale > 0) {
                float iscale = 15f / maxScale;
                for (int j = 0; j < 16; j++) sc[j] = nearestInt(iscale * scales[j]) & 0xFF;
                d = maxScale / 15f;
            } else {
                d = 0f;
            }
            if (maxMin > 0) {
                float iscale = 15f / maxMin;
                for (int j = 0; j < 16; j++) sc[j] = (sc[j] | (nearestInt(iscale * mins[j]) << 4)) & 0xFF;
                dmin = maxMin / 15f;
            } else {
                dmin = 0f;
            }
        } else {
            float sumx2 = 0;
            for (int j = 0; j < 256; j++) sumx2 += x[xo + j] * x[xo + j];
            float sigma2 = sumx2 / 256;
            for (int j = 0; j < 16; j++) {
                sw[j] = 0;
                for (int l = 0; l < 16; l++) {
                    float xv = x[xo + 16 * j + l];
                    weights[l] = importance[io + 16 * j + l] * (float) Math.sqrt(sigma2 + xv * xv);
                }
                for (int l = 0; l < 16; l++) sw[j] += weights[l];
                scales[j] = KQuantSearch.makeQkx3Quants(16, 3, x, xo + 16 * j, weights, L, 16 * j, theMin, laux,
                        -0.9f, 0.05f, 36, false);
                mins[j] = theMin[0];
            }
            d = KQuantSearch.makeQpQuants(16, 15, scales, ls, sw);
            dmin = KQuantSearch.makeQpQuants(16, 15, mins, lm, sw);
            for (int j = 0; j < 16; j++) sc[j] = (ls[j] | (lm[j] << 4)) & 0xFF;
        }
        out.d = Fp16.round(d);
        out.dmin = Fp16.round(dmin);
        for (int j = 0; j < 16; j++) {
            // the format stores scale and min as the two nibbles of one byte
            out.scales[j] = sc[j] & 0xF;
            out.mins[j] = sc[j] >> 4;
            float dl = out.d * out.scales[j];
            if (dl == 0) continue;
            float dm = out.dmin * out.mins[j];
            for (int ii = 0; ii < 16; ii++) {
                int l = nearestInt((x[xo + 16 * j + ii] + dm) / dl);
                L[16 * j + ii] = Math.max(0, Math.min(3, l));
            }
        }
    }
}
