package dev.lowbit.kernels.kquant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The Vector API sub-block search against the scalar reference, bit for bit (exact equality, no tolerance: the vector
 * path promises the reference's float operations lane by lane), on ggml's parameter sets and on hostile sub-blocks:
 * ties at rounding boundaries, ranges that underflow or overflow, flat, all-negative and all-positive blocks, signed
 * zeros, zero weights, counts that do not fill the lanes. (The scalar reference itself is held to ggml's bytes by
 * KQuantGgmlRefTest in ptq-algorithms, which runs whichever implementation the JVM chose.)
 */
class Qkx2QuantsTest {
    /** (n, nmax, rmin, rdelta, nstep, useMad): Q4_K, Q5_K, Q2_K in ggml-quants.c; a long odd one; no search (nstep 0). */
    private static final Object[][] PARAMS = {
        {32, 15, -1f, 0.1f, 20, false}, {32, 31, -0.5f, 0.1f, 15, false}, {16, 3, -0.5f, 0.1f, 15, true},
        {45, 7, -0.7f, 0.07f, 40, false}, {32, 15, -1f, 0.1f, 0, false},
    };

    @Test
    void vectorEqualsScalarOnRandomBlocks() {
        Random r = new Random(11);
        for (Object[] p : PARAMS) {
            int n = (int) p[0];
            for (int t = 0; t < 300; t++) {
                int count = 1 + r.nextInt(17);
                float[] x = new float[3 + count * n];
                float scale = (float) Math.pow(10, r.nextInt(9) - 6);
                for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * scale + (t % 3 == 0 ? scale : 0));
                check(p, count, x, 3, weights(x, 3, count, n, t % 4));
            }
        }
    }

    @Test
    void vectorEqualsScalarOnHostileBlocks() {
        Random r = new Random(5);
        for (Object[] p : PARAMS) {
            int n = (int) p[0], nmax = (int) p[1];
            int count = 10;
            float[] x = new float[count * n];
            for (int i = 0; i < n; i++) {
                x[i] = -1f - i;                                          // all negative
                x[n + i] = (i % nmax) + 0.5f;                            // halves: ties for rint
                x[2 * n + i] = Float.MIN_VALUE * (i % 3);                // range underflows: iscale = ∞, NaN products
                x[3 * n + i] = (i % 2 == 0 ? 1 : -1) * 3e38f;            // range overflows to ∞
                x[4 * n + i] = i == 0 ? 1f : 0f;                         // one non-zero
                x[5 * n + i] = 0.75f;                                    // flat and positive: min clipped to 0
                x[6 * n + i] = -2.5f;                                    // flat and negative: max = min, no search
                x[7 * n + i] = (float) Math.scalb(i, 20);                // v beyond 2²² before clamping
                x[8 * n + i] = i < n / 2 ? -0.0f : 0.25f * i;            // signed zeros
                x[9 * n + i] = (float) r.nextGaussian();
            }
            for (int mode = 0; mode < 4; mode++) check(p, count, x, 0, weights(x, 0, count, n, mode));
        }
    }

    /** Weights as the callers build them: av_x + |x| (Q4_K / Q5_K), |x| (Q2_K), ones, or some exactly zero. */
    private static float[] weights(float[] x, int xo, int count, int n, int mode) {
        float[] w = new float[count * n];
        for (int j = 0; j < count; j++) {
            float s2 = 0;
            for (int i = 0; i < n; i++) s2 += x[xo + j * n + i] * x[xo + j * n + i];
            float av = (float) Math.sqrt(s2 / n);
            for (int i = 0; i < n; i++) {
                float a = Math.abs(x[xo + j * n + i]);
                w[j * n + i] = switch (mode) {
                    case 0 -> av + a;
                    case 1 -> a;
                    case 2 -> 1f;
                    default -> i % 3 == 0 ? 0f : a;
                };
            }
        }
        return w;
    }

    private static void check(Object[] p, int count, float[] x, int xo, float[] w) {
        int n = (int) p[0], nmax = (int) p[1], nstep = (int) p[4];
        float rmin = (float) p[2], rdelta = (float) p[3];
        boolean mad = (boolean) p[5];
        int[] ls = new int[2 + count * n], lv = new int[2 + count * n];
        float[] ss = new float[1 + count], ms = new float[1 + count], sv = new float[1 + count], mv = new float[1 + count];
        KQuantKernels.newScalar().quantize(count, n, nmax, x, xo, w, ls, 2, ss, ms, 1, rmin, rdelta, nstep, mad);
        Qkx2Quants vector = KQuantKernels.newVector();
        assertTrue(vector.name().startsWith("vector"));
        vector.quantize(count, n, nmax, x, xo, w, lv, 2, sv, mv, 1, rmin, rdelta, nstep, mad);
        for (int j = 0; j <= count; j++) {
            assertEquals(Float.floatToRawIntBits(ss[j]), Float.floatToRawIntBits(sv[j]), "scale of sub-block " + j);
            assertEquals(Float.floatToRawIntBits(ms[j]), Float.floatToRawIntBits(mv[j]), "min of sub-block " + j);
        }
        assertArrayEquals(ls, lv);
    }
}
