package dev.lowbit.ptq.search;

import static dev.lowbit.ptq.search.KQuantSearch.nearestInt;

import dev.lowbit.io.ggml.GgmlBlock;
import dev.lowbit.kernels.kquant.KQuantKernels;
import dev.lowbit.kernels.kquant.Qkx2Quants;

/**
 * The search of Q4_K and Q5_K super-blocks (256 elements as eight sub-blocks of 32, each with a 6-bit scale and a
 * 6-bit min under fp16 d and dmin; x = (d·sc)·q − (dmin·m)). Without importance this is
 * {@code quantize_row_q4_K_ref}/{@code q5_K_ref}: {@code make_qkx2_quants} per sub-block with weights av_x + |x|
 * (av_x the sub-block RMS) and search parameters {@code rmin, rdelta, nstep}, then scales and mins relative to their
 * maxima; with importance {@code quantize_row_q4_K_impl}/{@code q5_K_impl}: {@code make_qkx3_quants} with weights
 * imp·√(σ² + x²), σ² = 2·Σx²/256, and {@code make_qp_quants} for the 6-bit scales and mins. The codes are finally
 * recomputed from the stored d·sc and dmin·m.
 */
final class ScaleMinSearch implements BlockSearch {
    private final int nmax;
    private final float rmin, rdelta;
    private final int nstep;
    private final int[] laux = new int[32];
    private final float[] weights = new float[256];
    private final Qkx2Quants qkx2 = KQuantKernels.newChosen();
    private final float[] mins = new float[8];
    private final float[] scales = new float[8];
    private final float[] theMin = new float[1];
    private final float[] sw = new float[8];

    private ScaleMinSearch(int nmax, float rmin, float rdelta, int nstep) {
        this.nmax = nmax;
        this.rmin = rmin;
        this.rdelta = rdelta;
        this.nstep = nstep;
    }

    /** Q4_K: 4-bit codes, {@code make_qkx2_quants}(32, 15, rmin −1, rdelta 0.1, 20 steps). */
    static ScaleMinSearch q4K() {
        return new ScaleMinSearch(15, -1f, 0.1f, 20);
    }

    /** Q5_K: 5-bit codes, {@code make_qkx2_quants}(32, 31, rmin −0.5, rdelta 0.1, 15 steps). */
    static ScaleMinSearch q5K() {
        return new ScaleMinSearch(31, -0.5f, 0.1f, 15);
    }

    @Override
    public void search(float[] x, int xo, float[] importance, int io, GgmlBlock out) {
        int[] L = out.codes;
        float d, dmin;
        if (importance == null) {
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++) {
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) sumX2 += x[xo + 32 * j + l] * x[xo + 32 * j + l];
                float avX = (float) Math.sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) weights[32 * j + l] = avX + Math.abs(x[xo + 32 * j + l]);
            }
            qkx2.quantize(8, 32, nmax, x, xo, weights, L, 0, scales, mins, 0, rmin, rdelta, nstep, false);
            for (int j = 0; j < 8; j++) {
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            float invScale = maxScale > 0 ? 63f / maxScale : 0f;
            float invMin = maxMin > 0 ? 63f / maxMin : 0f;
            for (int j = 0; j < 8; j++) {
                out.scales[j] = Math.min(63, nearestInt(invScale * scales[j]) & 0xFF);
                out.mins[j] = Math.min(63, nearestInt(invMin * mins[j]) & 0xFF);
            }
            d = maxScale / 63f;
            dmin = maxMin / 63f;
        } else {
            float sumX2 = 0;
            for (int l = 0; l < 256; l++) sumX2 += x[xo + l] * x[xo + l];
            float sigma2 = 2 * sumX2 / 256;
            for (int j = 0; j < 8; j++) {
                for (int l = 0; l < 32; l++) {
                    float xv = x[xo + 32 * j + l];
                    weights[l] = importance[io + 32 * j + l] * (float) Math.sqrt(sigma2 + xv * xv);
                }
                float sumw = 0;
                for (int l = 0; l < 32; l++) sumw += weights[l];
                sw[j] = sumw;
                scales[j] = KQuantSearch.makeQkx3Quants(32, nmax, x, xo + 32 * j, weights, L, 32 * j, theMin, laux,
                        -0.9f, 0.05f, 36, false);
                mins[j] = theMin[0];
            }
            d = KQuantSearch.makeQpQuants(8, 63, scales, out.scales, sw);
            dmin = KQuantSearch.makeQpQuants(8, 63, mins, out.mins, sw);
            for (int j = 0; j < 8; j++) {
                out.scales[j] = Math.min(63, out.scales[j]);
                out.mins[j] = Math.min(63, out.mins[j]);
            }
        }
        out.d = Fp16.round(d);
        out.dmin = Fp16.round(dmin);
        for (int j = 0; j < 8; j++) {
            float dl = out.d * out.scales[j];
            if (dl == 0) continue;
            float dm = out.dmin * out.mins[j];
            for (int ii = 0; ii < 32; ii++) {
                int l = nearestInt((x[xo + 32 * j + ii] + dm) / dl);
                L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
            }
        }
    }
}
