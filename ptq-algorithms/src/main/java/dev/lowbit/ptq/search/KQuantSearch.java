package dev.lowbit.ptq.search;

import dev.lowbit.kernels.kquant.QxQuants;

/**
 * llama.cpp's scale searches for the k-quants and IQ4: given a group of values (and optional weights), pick a scale
 * (and for the asymmetric types a min) and integer levels. Pure arithmetic on float arrays, no I/O.
 *
 * <p>By DESIGN.md ("Codec vs. search") these searches are algorithms: the codecs in io-formats only pack what they
 * choose ({@link dev.lowbit.io.ggml.GgmlBlock}). Every function reproduces the float arithmetic of the
 * ggml function it is named after, operation by operation in f32 and in the same order, so that the blocks come out
 * byte-identical to ggml's: rounding is {@link #nearestInt} (round half to even, ggml's {@code nearest_int}).
 *
 * <p>"ggml's bytes" means a build without fused multiply-add contraction (the default x86-64 target, and the build
 * that made {@code ../shared/data/ggml-ref}); a {@code -march=native -ffp-contract=fast} build of ggml contracts
 * these sums into FMAs and produces slightly different blocks for every searching type.
 */
final class KQuantSearch {
    private KQuantSearch() {}

    /** ggml's {@code GROUP_MAX_EPS}: a group whose largest magnitude is below this is all zero. */
    static final float GROUP_MAX_EPS = QxQuants.GROUP_MAX_EPS;

    /**
     * ggml's {@code nearest_int}: adds 1.5·2²³ in f32 and reads the low mantissa bits. The f32 addition rounds half to
     * even, so for |f| ≤ 2²² it equals {@code rint(f)}, which is what we compute.
     */
    static int nearestInt(float f) {
        return (int) Math.rint(f);
    }

    /**
     * {@code make_qx_quants}: symmetric levels l ∈ [−nmax, nmax−1] stored as l+nmax in {@code L}. Starts from
     * iscale = −nmax/max (max = the value of largest magnitude, sign kept), takes the weighted least-squares scale
     * Σwxl/Σwl², then tries iscale = −(nmax + 0.1·is)/max for is = −9..9 and keeps the best Σwxl²/Σwl².
     * Weights: {@code qw} if given, else by {@code rmseType} (1: x², 2: 1, 3: |x|, other: √|x|).
     * {@code rmseType} 0 returns the plain 1/iscale without refinement.
     */
    static float makeQxQuants(int n, int nmax, float[] x, int xo, int[] L, int lo, int rmseType, float[] qw, int qwo) {
        return QxQuants.reference(n, nmax, x, xo, L, lo, rmseType, qw, qwo);
    }

    /**
     * {@code make_q3_quants}: symmetric levels l ∈ [−nmax, nmax−1] (stored +nmax) from iscale = −nmax/max; with
     * {@code doRmse}, up to 5 passes of coordinate descent moving single levels while Σwxl²/Σwl² (w = x²) improves.
     */
    static float makeQ3Quants(int n, int nmax, float[] x, int xo, int[] L, int lo, boolean doRmse) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        if (doRmse) {
            float sumlx = 0;
            float suml2 = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                int l = nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                L[lo + i] = l;
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            for (int itry = 0; itry < 5; itry++) {
                int nChanged = 0;
                for (int i = 0; i < n; i++) {
                    float xi = x[xo + i];
                    float w = xi * xi;
                    float slx = sumlx - w * xi * L[lo + i];
                    if (slx > 0) {
                        float sl2 = suml2 - w * L[lo + i] * L[lo + i];
                        int newL = nearestInt(xi * sl2 / slx);
                        newL = Math.max(-nmax, Math.min(nmax - 1, newL));
                        if (newL != L[lo + i]) {
                            slx += w * xi * newL;
                            sl2 += w * newL * newL;
                            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                                L[lo + i] = newL;
                                sumlx = slx;
                                suml2 = sl2;
                                nChanged++;
                            }
                        }
                    }
                }
                if (nChanged == 0) break;
            }
            for (int i = 0; i < n; i++) L[lo + i] += nmax;
            return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
        }
        for (int i = 0; i < n; i++) {
            int l = nearestInt(iscale * x[xo + i]);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lo + i] = l + nmax;
        }
        return 1 / iscale;
    }

    /**
     * {@code make_qkx3_quants}: {@code make_qkx2_quants} ({@link dev.lowbit.kernels.kquant.Qkx2Quants}) as used with importance weights (weights default to x²), with
     * candidate levels computed as rint(min(v, nmax)) for v &gt; 0, else 0.
     */
    static float makeQkx3Quants(int n, int nmax, float[] x, int xo, float[] weights, int[] L, int lo, float[] theMin,
                                int[] Laux, float rmin, float rdelta, int nstep, boolean useMad) {
        float min = x[xo];
        float max = x[xo];
        float sumW = weights != null ? weights[0] : x[xo] * x[xo];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            float xi = x[xo + i];
            if (xi < min) min = xi;
            if (xi > max) max = xi;
            float w = weights != null ? weights[i] : xi * xi;
            sumW += w;
            sumX += w * xi;
        }
        if (min > 0) min = 0;
        if (max <= min) {
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            theMin[0] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestMad = 0;
        for (int i = 0; i < n; i++) {
            float xi = x[xo + i];
            int l = nearestInt(iscale * (xi - min));
            L[lo + i] = Math.max(0, Math.min(nmax, l));
            float diff = scale * L[lo + i] + min - xi;
            diff = useMad ? Math.abs(diff) : diff * diff;
            float w = weights != null ? weights[i] : xi * xi;
            bestMad += w * diff;
        }
        if (nstep < 1) {
            theMin[0] = -min;
            return scale;
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                float v = iscale * (xi - min);
                int l = v > 0 ? nearestInt(Math.min(v, nmax)) : 0;
                Laux[i] = l;
                float w = weights != null ? weights[i] : xi * xi;
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * xi;
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float mad = 0;
                for (int i = 0; i < n; i++) {
                    float xi = x[xo + i];
                    float diff = thisScale * Laux[i] + thisMin - xi;
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    float w = weights != null ? weights[i] : xi * xi;
                    mad += w * diff;
                }
                if (mad < bestMad) {
                    System.arraycopy(Laux, 0, L, lo, n);
                    bestMad = mad;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin[0] = -min;
        return scale;
    }

    /**
     * {@code make_qp_quants}: quantizes non-negative values (sub-block scales or mins) to l ∈ [0, nmax] with one
     * scale, weighted by {@code quantWeights}: best of iscale = (nmax + 0.1·is)/max for is = −4..4 by weighted MSE,
     * then up to 5 coordinate-descent passes on Σwxl²/Σwl². Returns Σwxl/Σwl².
     */
    static float makeQpQuants(int n, int nmax, float[] x, int[] L, float[] quantWeights) {
        float max = 0;
        for (int i = 0; i < n; i++) max = Math.max(max, x[i]);
        if (max < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = nmax / max;
        for (int i = 0; i < n; i++) L[i] = nearestInt(iscale * x[i]);
        float scale = 1 / iscale;
        float bestMse = 0;
        for (int i = 0; i < n; i++) {
            float diff = x[i] - scale * L[i];
            bestMse += quantWeights[i] * diff * diff;
        }
        for (int is = -4; is <= 4; is++) {
            if (is == 0) continue;
            float iscaleIs = (0.1f * is + nmax) / max;
            float scaleIs = 1 / iscaleIs;
            float mse = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.min(nmax, nearestInt(iscaleIs * x[i]));
                float diff = x[i] - scaleIs * l;
                mse += quantWeights[i] * diff * diff;
            }
            if (mse < bestMse) {
                bestMse = mse;
                iscale = iscaleIs;
            }
        }
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = Math.min(nmax, nearestInt(iscale * x[i]));
            L[i] = l;
            float w = quantWeights[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; itry++) {
            int nChanged = 0;
            for (int i = 0; i < n; i++) {
                float w = quantWeights[i];
                float slx = sumlx - w * x[i] * L[i];
                float sl2 = suml2 - w * L[i] * L[i];
                if (slx > 0 && sl2 > 0) {
                    int newL = Math.min(nmax, nearestInt(x[i] * sl2 / slx));
                    if (newL != L[i]) {
                        slx += w * x[i] * newL;
                        sl2 += w * newL * newL;
                        if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                            L[i] = newL;
                            sumlx = slx;
                            suml2 = sl2;
                            nChanged++;
                        }
                    }
                }
            }
            if (nChanged == 0) break;
        }
        return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
    }

    /**
     * {@code best_index_int8}: index of the nearest entry of the sorted table {@code val} (length a power of two);
     * x takes level i once it reaches the midpoint of val[i−1] and val[i] (ties go up).
     */
    static int bestIndexInt8(int n, int[] val, float x) {
        float x2 = x + x;
        int idx = 0;
        for (int step = n >> 1; step > 0; step >>= 1) {
            int j = idx + step;
            if (x2 >= (float) (val[j - 1] + val[j])) idx = j;
        }
        return idx;
    }

    /**
     * The IQ4_NL / IQ4_XS search ({@code quantize_row_iq4_nl_impl}) for one block of {@code blockSize} values:
     * weights w = importance·√(σ² + x²) (σ² = 2·Σx²/superBlockSize, passed in) or x²; start from d = −max/values[0],
     * assign nearest table entries, least-squares d = Σwqx/Σwq², then try id = (itry + values[0])/max for
     * itry = −ntry..ntry and keep the best Σwqx²/Σwq². Returns d (0 for an all-zero block, leaving {@code L} as is).
     */
    static float iq4BlockScale(float[] x, int xo, int blockSize, float[] weight, int[] values, int ntry, int[] L, int lo) {
        float amax = 0, max = 0;
        for (int j = 0; j < blockSize; j++) {
            float ax = Math.abs(x[xo + j]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + j];
            }
        }
        if (amax < GROUP_MAX_EPS) return 0f;
        float d = ntry > 0 ? -max / values[0] : max / values[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < blockSize; j++) {
            float xj = x[xo + j];
            int l = bestIndexInt8(16, values, id * xj);
            L[lo + j] = l;
            float q = values[l];
            float w = weight[j];
            sumqx += w * q * xj;
            sumq2 += w * q * q;
        }
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; itry++) {
            id = (itry + values[0]) / max;
            sumqx = 0;
            sumq2 = 0;
            for (int j = 0; j < blockSize; j++) {
                float xj = x[xo + j];
                int l = bestIndexInt8(16, values, id * xj);
                float q = values[l];
                float w = weight[j];
                sumqx += w * q * xj;
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        return d;
    }
}
