package dev.lowbit.kernels.kquant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The Vector API {@code make_qx_quants} against the scalar reference, bit for bit (exact equality: the vector path
 * promises the reference's float operations lane by lane), for Q6_K's parameters (n 16, nmax 32, rmse_type 1, with
 * and without importance), Q3_K's (nmax 4) and the other weightings, on random and hostile sub-blocks: ties, all
 * below GROUP_MAX_EPS, a single non-zero, negative maxima, signed zeros, huge magnitudes whose x² overflows, partial
 * lane groups. (The reference is held to ggml's bytes by KQuantGgmlRefTest in ptq-algorithms.)
 */
class QxQuantsTest {
    private static final int[][] PARAMS = {{16, 32, 1}, {16, 4, 1}, {32, 8, 2}, {16, 16, 3}, {16, 32, 4}, {16, 32, 0}, {16, 32, -1}};

    @Test
    void vectorEqualsScalarOnRandomBlocks() {
        Random r = new Random(3);
        for (int[] p : PARAMS) {
            for (int t = 0; t < 300; t++) {
                int count = 1 + r.nextInt(17), n = p[0];
                float[] x = new float[5 + count * n];
                float scale = (float) Math.pow(10, r.nextInt(9) - 6);
                for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * scale);
                float[] qw = null;
                if (t % 2 == 1) {
                    qw = new float[count * n + 2];
                    for (int i = 0; i < qw.length; i++) qw[i] = i % 7 == 0 ? 0f : (float) r.nextDouble();
                }
                check(p, count, x, 5, qw, 2 % (qw == null ? 1 : 3));
            }
        }
    }

    @Test
    void vectorEqualsScalarOnHostileBlocks() {
        Random r = new Random(8);
        for (int[] p : PARAMS) {
            int n = p[0], nmax = p[1], count = 9;
            float[] x = new float[count * n];
            for (int i = 0; i < n; i++) {
                x[i] = 1e-16f * (i % 3);                                  // below GROUP_MAX_EPS: all zero
                x[n + i] = i == 3 ? -2f : 0f;                             // one non-zero, negative maximum
                x[2 * n + i] = ((i % (2 * nmax)) - nmax + 0.5f) / nmax;   // halves: ties for rint
                x[3 * n + i] = (i % 2 == 0 ? 1 : -1) * 3e30f;             // x² overflows to ∞
                x[4 * n + i] = i < n / 2 ? -0.0f : 0.0f;                  // signed zeros: flat
                x[5 * n + i] = -1f - i;                                   // all negative
                x[6 * n + i] = 1e-15f;                                    // exactly at GROUP_MAX_EPS
                x[7 * n + i] = (float) Math.scalb(r.nextGaussian(), -120);
                x[8 * n + i] = (float) r.nextGaussian();
            }
            check(p, count, x, 0, null, 0);
            float[] qw = new float[count * n];
            for (int i = 0; i < qw.length; i++) qw[i] = i % 5 == 0 ? 0f : 1f + i % 3;
            check(p, count, x, 0, qw, 0);
        }
    }

    private static void check(int[] p, int count, float[] x, int xo, float[] qw, int qwo) {
        int n = p[0], nmax = p[1], rmse = p[2];
        int[] ls = new int[1 + count * n], lv = new int[1 + count * n];
        float[] ss = new float[2 + count], sv = new float[2 + count];
        KQuantKernels.newScalarQx().quantize(count, n, nmax, x, xo, ls, 1, ss, 2, rmse, qw, qwo);
        KQuantKernels.newVectorQx().quantize(count, n, nmax, x, xo, lv, 1, sv, 2, rmse, qw, qwo);
        for (int j = 0; j < ss.length; j++) {
            assertEquals(Float.floatToRawIntBits(ss[j]), Float.floatToRawIntBits(sv[j]), "scale of sub-block " + j + " " + java.util.Arrays.toString(p));
        }
        assertArrayEquals(ls, lv, java.util.Arrays.toString(p));
    }
}
