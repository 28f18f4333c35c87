package dev.lowbit.kernels.kquant;

/** The reference: {@code make_qkx2_quants} as ggml-quants.c writes it, one sub-block after another. */
final class ScalarQkx2Quants implements Qkx2Quants {
    private int[] laux = new int[32];

    ScalarQkx2Quants() {}

    @Override
    public void quantize(int count, int n, int nmax, float[] x, int xo, float[] w, int[] L, int lo, float[] scales,
                         float[] mins, int so, float rmin, float rdelta, int nstep, boolean useMad) {
        if (laux.length < n) laux = new int[n];
        for (int j = 0; j < count; j++) {
            one(n, nmax, x, xo + j * n, w, j * n, L, lo + j * n, scales, mins, so + j, rmin, rdelta, nstep, useMad);
        }
    }

    private void one(int n, int nmax, float[] x, int xo, float[] w, int wo, int[] L, int lo, float[] scales, float[] mins,
                     int s, float rmin, float rdelta, int nstep, boolean useMad) {
        float min = x[xo];
        float max = x[xo];
        float sumW = w[wo];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            float xi = x[xo + i];
            if (xi < min) min = xi;
            if (xi > max) max = xi;
            float wi = w[wo + i];
            sumW += wi;
            sumX += wi * xi;
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            scales[s] = 0f;
            mins[s] = -min;
            return;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = Math.max(0, Math.min(nmax, (int) Math.rint(iscale * (x[xo + i] - min))));
            L[lo + i] = l;
            float diff = scale * l + min - x[xo + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += w[wo + i] * diff;
        }
        for (int is = 0; is <= nstep && nstep >= 1; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                int l = Math.max(0, Math.min(nmax, (int) Math.rint(iscale * (xi - min))));
                laux[i] = l;
                float wi = w[wo + i];
                sumL += wi * l;
                sumL2 += wi * l * l;
                sumXL += wi * l * xi;
            }
            float d = sumW * sumL2 - sumL * sumL;
            if (d > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / d;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / d;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * laux[i] + thisMin - x[xo + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    curError += w[wo + i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(laux, 0, L, lo, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        scales[s] = scale;
        mins[s] = -min;
    }

    @Override
    public String name() {
        return "scalar";
    }
}
