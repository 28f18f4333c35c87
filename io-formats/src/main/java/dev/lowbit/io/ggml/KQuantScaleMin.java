package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;
import static dev.lowbit.io.ggml.KQuantSearch.nearestInt;

import java.lang.foreign.MemorySegment;

/**
 * The part Q4_K and Q5_K share: fp16 d and dmin at bytes 0 and 2, then 12 bytes holding eight 6-bit (scale, min)
 * pairs, one per 32 elements ({@code get_scale_min_k4}): for j &lt; 4, sc = s[j] &amp; 63, m = s[j+4] &amp; 63; for
 * j ≥ 4, sc = (s[j+4] &amp; 0xF) | ((s[j−4] &gt;&gt; 6) &lt;&lt; 4), m = (s[j+4] &gt;&gt; 4) | ((s[j] &gt;&gt; 6) &lt;&lt; 4).
 * Sub-block j decodes as x = (d·sc)·q − (dmin·m).
 */
final class KQuantScaleMin {
    private KQuantScaleMin() {}

    /** Scale of pair j from the 12 bytes at {@code scalesOff}. */
    static int sc(MemorySegment s, long scalesOff, int j) {
        if (j < 4) return KQuantBits.u8(s, scalesOff + j) & 63;
        return (KQuantBits.u8(s, scalesOff + j + 4) & 0xF) | ((KQuantBits.u8(s, scalesOff + j - 4) >> 6) << 4);
    }

    /** Min of pair j from the 12 bytes at {@code scalesOff}. */
    static int m(MemorySegment s, long scalesOff, int j) {
        if (j < 4) return KQuantBits.u8(s, scalesOff + j + 4) & 63;
        return (KQuantBits.u8(s, scalesOff + j + 4) >> 4) | ((KQuantBits.u8(s, scalesOff + j) >> 6) << 4);
    }

    private static void pack(int[] s, int j, int ls, int lm) {
        if (j < 4) {
            s[j] = ls;
            s[j + 4] = lm;
        } else {
            s[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            s[j - 4] |= (ls >> 4) << 6;
            s[j] |= (lm >> 4) << 6;
        }
    }

    /**
     * Chooses and writes d, dmin and the 12 scale bytes of the block at {@code blk} for {@code x[xo..xo+256)}, then
     * fills {@code L} with codes in [0, nmax] recomputed from the stored values. Without importance this is
     * {@code quantize_row_q4_K_ref}/{@code q5_K_ref} ({@code make_qkx2_quants} with weights av_x + |x|, av_x the
     * sub-block RMS, and search parameters {@code rmin, rdelta, nstep}; scales and mins then relative to their maxima);
     * with importance {@code quantize_row_q4_K_impl}/{@code q5_K_impl} ({@code make_qkx3_quants} with weights
     * imp·√(σ² + x²), σ² = 2·Σx²/256, and {@code make_qp_quants} for the 6-bit scales and mins).
     */
    static void quantizeBlock(float[] x, int xo, float[] importance, int io, int nmax, float rmin, float rdelta,
                              int nstep, MemorySegment dst, long blk, int[] L) {
        int[] Laux = new int[32];
        float[] weights = new float[32];
        float[] mins = new float[8];
        float[] scales = new float[8];
        float[] theMin = new float[1];
        int[] packed = new int[12];
        float d, dmin;
        if (importance == null) {
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++) {
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) sumX2 += x[xo + 32 * j + l] * x[xo + 32 * j + l];
                float avX = (float) Math.sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[xo + 32 * j + l]);
                scales[j] = KQuantSearch.makeQkx2Quants(32, nmax, x, xo + 32 * j, weights, L, 32 * j, theMin, Laux,
                        rmin, rdelta, nstep, false);
                mins[j] = theMin[0];
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            float invScale = maxScale > 0 ? 63f / maxScale : 0f;
            float invMin = maxMin > 0 ? 63f / maxMin : 0f;
            for (int j = 0; j < 8; j++) {
                int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xFF);
                int lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xFF);
                pack(packed, j, ls, lm);
            }
            d = maxScale / 63f;
            dmin = maxMin / 63f;
        } else {
            float sumX2 = 0;
            for (int l = 0; l < QK_K; l++) sumX2 += x[xo + l] * x[xo + l];
            float sigma2 = 2 * sumX2 / QK_K;
            float[] sw = new float[8];
            for (int j = 0; j < 8; j++) {
                for (int l = 0; l < 32; l++) {
                    float xv = x[xo + 32 * j + l];
                    weights[l] = importance[io + 32 * j + l] * (float) Math.sqrt(sigma2 + xv * xv);
                }
                float sumw = 0;
                for (int l = 0; l < 32; l++) sumw += weights[l];
                sw[j] = sumw;
                scales[j] = KQuantSearch.makeQkx3Quants(32, nmax, x, xo + 32 * j, weights, L, 32 * j, theMin, Laux,
                        -0.9f, 0.05f, 36, false);
                mins[j] = theMin[0];
            }
            int[] Ls = new int[8];
            int[] Lm = new int[8];
            d = KQuantSearch.makeQpQuants(8, 63, scales, Ls, sw);
            dmin = KQuantSearch.makeQpQuants(8, 63, mins, Lm, sw);
            for (int j = 0; j < 8; j++) pack(packed, j, Math.min(63, Ls[j]), Math.min(63, Lm[j]));
        }
        for (int i = 0; i < 12; i++) KQuantBits.putU8(dst, blk + 4 + i, packed[i]);
        float dStored = KQuantBits.putF16(dst, blk, d);
        float dminStored = KQuantBits.putF16(dst, blk + 2, dmin);
        for (int j = 0; j < 8; j++) {
            float dl = dStored * sc(dst, blk + 4, j);
            if (dl == 0) continue;
            float dm = dminStored * m(dst, blk + 4, j);
            for (int ii = 0; ii < 32; ii++) {
                int l = nearestInt((x[xo + 32 * j + ii] + dm) / dl);
                L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
            }
        }
    }
}
