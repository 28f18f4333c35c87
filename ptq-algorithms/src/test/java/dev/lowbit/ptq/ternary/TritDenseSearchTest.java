package dev.lowbit.ptq.ternary;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.kernels.FloatFormats;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link TritPlaneFit#denseSearch}: the empirical floor of the two-plane codebook that the error table reports. */
class TritDenseSearchTest {

    /**
     * The global optimum of a group of n values over all 9ⁿ trit assignments, each with its least-squares scales
     * (written here from the definition, independently of TritPlaneFit): {loss, α₁, α₂}. Singular assignments (a plane
     * empty, or the planes equal up to sign) are one-dimensional least squares on the plane that is left.
     */
    private static double[] globalOptimum(double[] w) {
        int n = w.length;
        double ww = 0;
        for (double x : w) ww += x * x;
        double best = ww, bestA1 = 0, bestA2 = 0;
        int[] t1 = new int[n], t2 = new int[n];
        int total = (int) Math.pow(9, n);
        for (int code = 0; code < total; code++) {
            int k = code;
            for (int j = 0; j < n; j++) {
                int tuple = k % 9;
                k /= 9;
                t1[j] = tuple % 3 - 1;
                t2[j] = tuple / 3 - 1;
            }
            double g11 = 0, g12 = 0, g22 = 0, b1 = 0, b2 = 0;
            for (int j = 0; j < n; j++) {
                g11 += t1[j] * t1[j];
                g12 += t1[j] * t2[j];
                g22 += t2[j] * t2[j];
                b1 += t1[j] * w[j];
                b2 += t2[j] * w[j];
            }
            double det = g11 * g22 - g12 * g12, loss, a1, a2;
            if (det > 0.5) { // integer Gram matrix: det is 0 or ≥ 1
                a1 = (g22 * b1 - g12 * b2) / det;
                a2 = (g11 * b2 - g12 * b1) / det;
                loss = ww - (a1 * b1 + a2 * b2);
            } else if (g11 > 0) {
                a1 = b1 / g11;
                a2 = 0;
                loss = ww - b1 * b1 / g11;
            } else if (g22 > 0) {
                a1 = 0;
                a2 = b2 / g22;
                loss = ww - b2 * b2 / g22;
            } else {
                continue;
            }
            if (loss < best) {
                best = loss;
                bestA1 = a1;
                bestA2 = a2;
            }
        }
        return new double[] {best, bestA1, bestA2};
    }

    @Test
    void findsTheGlobalOptimumOfSmallGroups() {
        SplittableRandom rnd = new SplittableRandom(13);
        int n = 6;
        for (int trial = 0; trial < 12; trial++) {
            float[] w = new float[n];
            double[] wd = new double[n];
            for (int j = 0; j < n; j++) {
                // heavy-ish tails, as trained weights have: a Gaussian times a log-uniform factor
                w[j] = (float) (0.02 * rnd.nextGaussian() * Math.exp(rnd.nextDouble() * 1.5));
                wd[j] = w[j];
            }
            double[] opt = globalOptimum(wd);
            byte[] t1 = new byte[n], t2 = new byte[n];
            TritPlaneFit.Result r = TritPlaneFit.denseSearch(w, 0, n, t1, t2);
            // the search stores f16 scales: rounding α* by at most 2⁻¹¹ relative raises a least-squares optimum (zero
            // gradient in α for its trits) by at most Σⱼ (t₁Δα₁ + t₂Δα₂)² ≤ n·(2⁻¹¹(|α₁*| + |α₂*|))²; 1e-9·Σw² covers
            // the double rounding of the sums
            double ww = 0;
            for (double x : wd) ww += x * x;
            double slack = n * Math.pow(Math.scalb(Math.abs(opt[1]) + Math.abs(opt[2]), -11), 2) + 1e-9 * ww;
            assertTrue(r.loss() <= opt[0] + slack,
                    "trial " + trial + ": dense search " + r.loss() + " above the global optimum " + opt[0] + " + " + slack);
            assertTrue(r.loss() >= opt[0] - 1e-9 * ww, "no assignment beats the global optimum");
        }
    }

    @Test
    void itsResultIsAConsistentTritPlaneFitNoWorseThanTheAlternation() {
        float[] w = TernaryFixture.qProj();
        int g = 128;
        byte[] t1 = new byte[w.length], t2 = new byte[w.length], p1 = new byte[w.length], p2 = new byte[w.length];
        double dense = 0, progressive = 0;
        for (int off = 0; off < 16 * TernaryFixture.COLS; off += g) {
            TritPlaneFit.Result r = TritPlaneFit.denseSearch(w, off, g, t1, t2);
            assertEquals(r.alpha1(), FloatFormats.f16ToF32(FloatFormats.f32ToF16(r.alpha1())), "α₁ is f16-exact");
            assertEquals(r.alpha2(), FloatFormats.f16ToF32(FloatFormats.f32ToF16(r.alpha2())), "α₂ is f16-exact");
            double l = 0;
            for (int j = off; j < off + g; j++) {
                double e = w[j] - (r.alpha1() * t1[j] + r.alpha2() * t2[j]);
                l += e * e;
                // each weight sits on its nearest codebook value
                for (int a = -1; a <= 1; a++) {
                    for (int b = -1; b <= 1; b++) {
                        double e2 = w[j] - (r.alpha1() * a + r.alpha2() * b);
                        assertTrue(Math.abs(e) <= Math.abs(e2) + 1e-9, "weight " + j + " is not on its nearest level");
                    }
                }
            }
            // f32 level values vs the double recomputation: a relative 1e-9 is far below one f32 ulp of the sum
            assertEquals(l, r.loss(), 1e-9 * l + 1e-15);
            dense += r.loss();
            progressive += TritPlaneFit.fit(w, null, off, g, 50, p1, p2).loss();
        }
        // the lead's finding on other tensors: the dense floor is ~12% below the progressive fit; 5% is a loose bar
        // that fails if the search stops exploring (e.g. a broken ratio grid that starts every run at one point)
        assertTrue(dense < 0.95 * progressive, "dense " + dense + " vs progressive " + progressive);
    }
}
