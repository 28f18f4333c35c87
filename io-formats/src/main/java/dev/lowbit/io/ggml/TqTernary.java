package dev.lowbit.io.ggml;

/**
 * What TQ1_0 and TQ2_0 share: d = absmax of the 256 values, ternary codes t = lroundf(x/d) + 1 ∈ {0, 1, 2} with
 * C's {@code lroundf} (half away from zero) on x·(1/d) in f32.
 */
final class TqTernary {
    private TqTernary() {}

    /** The block's absmax, the value stored (as fp16) in d. */
    static float absmax(float[] x, int xo) {
        float amax = 0f;
        for (int j = 0; j < KQuantBits.QK_K; j++) amax = Math.max(amax, Math.abs(x[xo + j]));
        return amax;
    }

    /** t = lroundf(v·id) + 1, rounding half away from zero (exact: the f32 product is widened before adding ½). */
    static int trit(float v, float id) {
        float p = v * id;
        double r = Math.floor(Math.abs((double) p) + 0.5);
        return (int) Math.copySign(r, p) + 1;
    }
}
