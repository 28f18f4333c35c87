package dev.lowbit.kernels.kquant;

/** The reference: {@code make_qx_quants} as ggml-quants.c writes it, one sub-block after another. */
final class ScalarQxQuants implements QxQuants {
    ScalarQxQuants() {}

    @Override
    public void quantize(int count, int n, int nmax, float[] x, int xo, int[] L, int lo, float[] scales, int so,
                         int rmseType, float[] qw, int qwo) {
        for (int j = 0; j < count; j++) {
            scales[so + j] = one(n, nmax, x, xo + j * n, L, lo + j * n, rmseType, qw, qwo + j * n);
        }
    }

    static float one(int n, int nmax, float[] x, int xo, int[] L, int lo, int rmseType, float[] qw, int qwo) {
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
        if (rmseType == 0) {
            for (int i = 0; i < n; i++) L[lo + i] = nmax + level(iscale * x[xo + i], nmax);
            return 1 / iscale;
        }
        boolean returnEarly = false;
        if (rmseType < 0) {
            rmseType = -rmseType;
            returnEarly = true;
        }
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; i++) {
            float xi = x[xo + i];
            int l = level(iscale * xi, nmax);
            L[lo + i] = l + nmax;
            float w = weight(qw, qwo + i, xi, rmseType);
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        if (returnEarly) return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) continue;
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                int l = level(iscale * xi, nmax);
                float w = weight(qw, qwo + i, xi, rmseType);
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; i++) L[lo + i] = nmax + level(iscale * x[xo + i], nmax);
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /** clamp(rint(v), −nmax, nmax − 1). */
    private static int level(float v, int nmax) {
        return Math.max(-nmax, Math.min(nmax - 1, (int) Math.rint(v)));
    }

    private static float weight(float[] qw, int i, float x, int rmseType) {
        if (qw != null) return qw[i];
        return switch (rmseType) {
            case 1 -> x * x;
            case 2 -> 1;
            case 3 -> Math.abs(x);
            default -> (float) Math.sqrt(Math.abs(x));
        };
    }

    @Override
    public String name() {
        return "scalar";
    }
}
