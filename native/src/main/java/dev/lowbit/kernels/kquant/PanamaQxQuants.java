package dev.lowbit.kernels.kquant;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The search with one sub-block per lane (8 lanes of 256 bits; Q6_K's sixteen sub-blocks are two groups), for the
 * full search ({@code rmseType} > 0); the other modes run the reference. Each lane performs the reference's float
 * operations in its order and association ({@code (w·x)·l}, {@code (w·l)·l}, sums in index order, no fused
 * multiply-add, IEEE division), and its branches become lane masks (the largest magnitude by compare-and-blend, a
 * winning step blends its codes and scale), so codes and scales are the reference's bit for bit. Rounding to nearest
 * even is {@code (v + 1.5·2²³) − 1.5·2²³}, exact for |v| ≤ 2²²; here |v| ≤ nmax + 1.
 *
 * <p>Loaded reflectively by {@link KQuantKernels} only when {@code jdk.incubator.vector} is present.
 */
final class PanamaQxQuants implements QxQuants {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final int LANES = F.length();
    private static final float MAGIC = 12582912f; // 1.5·2²³

    /** Element i of lane j at [i·LANES + j]: the sub-blocks transposed, their weights, the best codes. */
    private float[] xt = new float[16 * LANES], wt = new float[16 * LANES], best = new float[16 * LANES];
    private final float[] lane = new float[LANES];

    PanamaQxQuants() {}

    @Override
    public void quantize(int count, int n, int nmax, float[] x, int xo, int[] L, int lo, float[] scales, int so,
                         int rmseType, float[] qw, int qwo) {
        if (rmseType <= 0) {
            for (int j = 0; j < count; j++) scales[so + j] = ScalarQxQuants.one(n, nmax, x, xo + j * n, L, lo + j * n, rmseType, qw, qwo + j * n);
            return;
        }
        if (xt.length < n * LANES) {
            xt = new float[n * LANES];
            wt = new float[n * LANES];
            best = new float[n * LANES];
        }
        for (int first = 0; first < count; first += LANES) {
            int lanes = Math.min(LANES, count - first);
            for (int j = 0; j < LANES; j++) {
                int src = first + Math.min(j, lanes - 1);  // spare lanes repeat the last sub-block; never stored
                for (int i = 0; i < n; i++) {
                    float xi = x[xo + src * n + i];
                    xt[i * LANES + j] = xi;
                    wt[i * LANES + j] = qw != null ? qw[qwo + src * n + i] : switch (rmseType) {
                        case 1 -> xi * xi;
                        case 2 -> 1;
                        case 3 -> Math.abs(xi);
                        default -> (float) Math.sqrt(Math.abs(xi));
                    };
                }
            }
            group(n, nmax);
            for (int j = 0; j < lanes; j++) {
                scales[so + first + j] = lane[j];
                for (int i = 0; i < n; i++) L[lo + (first + j) * n + i] = nmax + (int) best[i * LANES + j];
            }
        }
    }

    private void group(int n, int nmax) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector lowest = FloatVector.broadcast(F, (float) -nmax), highest = FloatVector.broadcast(F, (float) (nmax - 1));
        FloatVector max = zero, amax = zero;
        for (int i = 0; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES), ax = xi.abs();
            VectorMask<Float> larger = ax.compare(VectorOperators.GT, amax);
            amax = amax.blend(ax, larger);
            max = max.blend(xi, larger);
        }
        VectorMask<Float> flat = amax.compare(VectorOperators.LT, GROUP_MAX_EPS);
        FloatVector iscale = FloatVector.broadcast(F, (float) -nmax).div(max);
        FloatVector sumlx = zero, suml2 = zero;
        for (int i = 0; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES), w = FloatVector.fromArray(F, wt, i * LANES);
            FloatVector l = iscale.mul(xi).add(MAGIC).sub(MAGIC).max(lowest).min(highest);
            l.intoArray(best, i * LANES);
            sumlx = sumlx.add(w.mul(xi).mul(l));
            suml2 = suml2.add(w.mul(l).mul(l));
        }
        FloatVector scale = sumlx.div(suml2).blend(zero, suml2.compare(VectorOperators.EQ, zero));
        FloatVector bestFit = scale.mul(sumlx);
        for (int is = -9; is <= 9; is++) {
            if (is == 0) continue;
            iscale = FloatVector.broadcast(F, -(nmax + 0.1f * is)).div(max);
            sumlx = zero;
            suml2 = zero;
            for (int i = 0; i < n; i++) {
                FloatVector xi = FloatVector.fromArray(F, xt, i * LANES), w = FloatVector.fromArray(F, wt, i * LANES);
                FloatVector l = iscale.mul(xi).add(MAGIC).sub(MAGIC).max(lowest).min(highest);
                sumlx = sumlx.add(w.mul(xi).mul(l));
                suml2 = suml2.add(w.mul(l).mul(l));
            }
            VectorMask<Float> win = suml2.compare(VectorOperators.GT, zero)
                    .and(sumlx.mul(sumlx).compare(VectorOperators.GT, bestFit.mul(suml2)));
            if (!win.anyTrue()) continue;
            for (int i = 0; i < n; i++) {
                FloatVector l = iscale.mul(FloatVector.fromArray(F, xt, i * LANES)).add(MAGIC).sub(MAGIC).max(lowest).min(highest);
                FloatVector.fromArray(F, best, i * LANES).blend(l, win).intoArray(best, i * LANES);
            }
            FloatVector s = sumlx.div(suml2);
            scale = scale.blend(s, win);
            bestFit = bestFit.blend(s.mul(sumlx), win);
        }
        // A flat sub-block: codes 0 (stored as nmax + l, so l = −nmax), scale 0.
        for (int i = 0; i < n; i++) FloatVector.fromArray(F, best, i * LANES).blend(lowest, flat).intoArray(best, i * LANES);
        scale.blend(zero, flat).intoArray(lane, 0);
    }

    @Override
    public String name() {
        return "vector(" + LANES + " lanes)";
    }
}
