package dev.lowbit.kernels.kquant;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The search with one sub-block per lane (8 lanes of 256 bits: a Q4_K / Q5_K super-block's eight sub-blocks, or half
 * of Q2_K's sixteen). Each lane runs the reference's loop on its own sub-block, every float operation in the same
 * order and association (sums over the elements in index order, {@code (w·l)·l}, no fused multiply-add, IEEE division),
 * and the data-dependent steps become lane masks: {@code if (x < min) min = x} is a compare-and-blend (not
 * {@code min()}, which orders −0 below +0), a winning step blends its codes, scale and min into the lane's best.
 * So codes, scales and mins are the reference's bit for bit. Rounding to nearest even is {@code (v + 1.5·2²³) −
 * 1.5·2²³}, exact for |v| ≤ 2²²; larger magnitudes clamp to 0 or nmax either way, and NaN (a range that underflows
 * to 0 makes iscale infinite) becomes code 0, as the reference's {@code (int) rint(NaN)}. A lane whose range is flat
 * never takes a step, as the reference returns before the search.
 *
 * <p>Loaded reflectively by {@link KQuantKernels} only when {@code jdk.incubator.vector} is present.
 */
final class PanamaQkx2Quants implements Qkx2Quants {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final int LANES = F.length();
    private static final float MAGIC = 12582912f; // 1.5·2²³

    /** Element i of lane j at [i·LANES + j]: the sub-blocks transposed, their weights, a step's codes, the best codes. */
    private float[] xt = new float[32 * LANES], wt = new float[32 * LANES], codes = new float[32 * LANES], best = new float[32 * LANES];
    private final float[] lane = new float[LANES], lane2 = new float[LANES];

    PanamaQkx2Quants() {}

    @Override
    public void quantize(int count, int n, int nmax, float[] x, int xo, float[] w, int[] L, int lo, float[] scales,
                         float[] mins, int so, float rmin, float rdelta, int nstep, boolean useMad) {
        if (xt.length < n * LANES) {
            xt = new float[n * LANES];
            wt = new float[n * LANES];
            codes = new float[n * LANES];
            best = new float[n * LANES];
        }
        for (int first = 0; first < count; first += LANES) {
            int lanes = Math.min(LANES, count - first);
            for (int j = 0; j < LANES; j++) {
                int src = first + Math.min(j, lanes - 1);  // spare lanes repeat the last sub-block; never stored
                for (int i = 0; i < n; i++) {
                    xt[i * LANES + j] = x[xo + src * n + i];
                    wt[i * LANES + j] = w[src * n + i];
                }
            }
            group(n, nmax, rmin, rdelta, nstep, useMad);
            // lane: scale, lane2: −min (set by group)
            for (int j = 0; j < lanes; j++) {
                scales[so + first + j] = lane[j];
                mins[so + first + j] = lane2[j];
                for (int i = 0; i < n; i++) L[lo + (first + j) * n + i] = (int) best[i * LANES + j];
            }
        }
    }

    private void group(int n, int nmax, float rmin, float rdelta, int nstep, boolean useMad) {
        FloatVector zero = FloatVector.zero(F), top = FloatVector.broadcast(F, (float) nmax);
        FloatVector min = FloatVector.fromArray(F, xt, 0), max = min;
        FloatVector sumW = FloatVector.fromArray(F, wt, 0), sumX = sumW.mul(min);
        for (int i = 1; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES), wi = FloatVector.fromArray(F, wt, i * LANES);
            min = min.blend(xi, xi.compare(VectorOperators.LT, min));
            max = max.blend(xi, xi.compare(VectorOperators.GT, max));
            sumW = sumW.add(wi);
            sumX = sumX.add(wi.mul(xi));
        }
        min = min.blend(zero, min.compare(VectorOperators.GT, zero));
        VectorMask<Float> flat = max.compare(VectorOperators.EQ, min);
        FloatVector iscale = top.div(max.sub(min));
        FloatVector scale = FloatVector.broadcast(F, 1f).div(iscale);
        FloatVector bestError = zero;
        for (int i = 0; i < n; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES);
            FloatVector l = round(iscale.mul(xi.sub(min)), zero, top);
            l.intoArray(best, i * LANES);
            FloatVector diff = scale.mul(l).add(min).sub(xi);
            diff = useMad ? diff.abs() : diff.mul(diff);
            bestError = bestError.add(FloatVector.fromArray(F, wt, i * LANES).mul(diff));
        }
        VectorMask<Float> live = flat.not();
        for (int is = 0; is <= nstep && nstep >= 1; is++) {
            iscale = FloatVector.broadcast(F, rmin + rdelta * is + nmax).div(max.sub(min));
            FloatVector sumL = zero, sumL2 = zero, sumXL = zero;
            for (int i = 0; i < n; i++) {
                FloatVector xi = FloatVector.fromArray(F, xt, i * LANES);
                FloatVector l = round(iscale.mul(xi.sub(min)), zero, top);
                l.intoArray(codes, i * LANES);
                FloatVector wl = FloatVector.fromArray(F, wt, i * LANES).mul(l);
                sumL = sumL.add(wl);
                sumL2 = sumL2.add(wl.mul(l));
                sumXL = sumXL.add(wl.mul(xi));
            }
            FloatVector d = sumW.mul(sumL2).sub(sumL.mul(sumL));
            VectorMask<Float> ok = d.compare(VectorOperators.GT, zero);
            if (!ok.anyTrue()) continue;
            FloatVector thisScale = sumW.mul(sumXL).sub(sumX.mul(sumL)).div(d);
            FloatVector thisMin = sumL2.mul(sumX).sub(sumL.mul(sumXL)).div(d);
            VectorMask<Float> positive = thisMin.compare(VectorOperators.GT, zero);
            thisMin = thisMin.blend(zero, positive);
            thisScale = thisScale.blend(sumXL.div(sumL2), positive);
            FloatVector cur = zero;
            for (int i = 0; i < n; i++) {
                FloatVector diff = thisScale.mul(FloatVector.fromArray(F, codes, i * LANES)).add(thisMin)
                        .sub(FloatVector.fromArray(F, xt, i * LANES));
                diff = useMad ? diff.abs() : diff.mul(diff);
                cur = cur.add(FloatVector.fromArray(F, wt, i * LANES).mul(diff));
            }
            VectorMask<Float> win = ok.and(live).and(cur.compare(VectorOperators.LT, bestError));
            if (!win.anyTrue()) continue;
            for (int i = 0; i < n; i++) {
                FloatVector.fromArray(F, best, i * LANES).blend(FloatVector.fromArray(F, codes, i * LANES), win).intoArray(best, i * LANES);
            }
            bestError = bestError.blend(cur, win);
            scale = scale.blend(thisScale, win);
            min = min.blend(thisMin, win);
        }
        // A flat sub-block (max = min): codes 0, scale 0, −min, as the reference returns before any search.
        for (int i = 0; i < n; i++) {
            FloatVector.fromArray(F, best, i * LANES).blend(zero, flat).intoArray(best, i * LANES);
        }
        scale.blend(zero, flat).intoArray(lane, 0);
        min.neg().intoArray(lane2, 0);
    }

    /** clamp(rint(v), 0, nmax), NaN → 0. */
    private static FloatVector round(FloatVector v, FloatVector zero, FloatVector top) {
        FloatVector l = v.add(MAGIC).sub(MAGIC).max(zero).min(top);
        return l.blend(zero, l.compare(VectorOperators.NE, l));  // NaN ≠ NaN
    }

    static int vectorBitSize() {
        return F.vectorBitSize();
    }

    @Override
    public String name() {
        return "vector(" + LANES + " lanes)";
    }
}
