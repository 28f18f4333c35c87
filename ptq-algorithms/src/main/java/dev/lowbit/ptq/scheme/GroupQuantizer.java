package dev.lowbit.ptq.scheme;

import dev.lowbit.io.quant.QuantScheme;

/**
 * Min/max group quantization exactly as the GPTQ reference's {@code Quantizer.find_params} and {@code quantize},
 * operation by operation in f32, so that results are bit-identical to it. For one row of a group, maxq = 2^bits − 1:
 *
 * <pre>
 *   lo = min(0, min w),  hi = max(0, max w)
 *   sym:   hi = max(|lo|, hi);  if lo &lt; 0: lo = −hi        (a group with lo = 0 keeps lo = 0: the reference's quirk)
 *   if lo = 0 and hi = 0:  lo = −1, hi = +1
 *   scale = (hi − lo) / maxq
 *   zero  = sym ? (maxq + 1) / 2 : rint(−lo / scale)
 *   q     = clamp(rint(w / scale) + zero, 0, maxq),   ŵ = scale · (q − zero)
 * </pre>
 *
 * with rint rounding half to even (torch.round). Zeros are kept as f32 integers, as the reference keeps them.
 */
public final class GroupQuantizer {
    private GroupQuantizer() {}

    /**
     * Finds (scale, zero) for rows [0, rows) over columns [colFrom, colTo) of the row-major matrix {@code w} with
     * {@code ld} elements per row, writing {@code scale[r]} and {@code zero[r]}.
     *
     * @param clip the MSE clipping search, or null for plain min/max
     */
    public static void findParams(float[] w, int ld, int rows, int colFrom, int colTo, QuantScheme scheme,
                                  ClipSearch clip, float[] scale, float[] zero) {
        findParams(w, ld, rows, colFrom, colTo, scheme, clip, null, scale, zero);
    }

    /**
     * {@link #findParams(float[], int, int, int, int, QuantScheme, ClipSearch, float[], float[])} with asymmetric zero
     * points kept at or above {@code floor.min()} by widening the group's scale ({@link ZeroFloor}); {@code floor}
     * null leaves every group as min/max gives it.
     */
    public static void findParams(float[] w, int ld, int rows, int colFrom, int colTo, QuantScheme scheme,
                                  ClipSearch clip, ZeroFloor floor, float[] scale, float[] zero) {
        int maxq = scheme.maxq();
        float[] range = new float[2];
        for (int r = 0; r < rows; r++) {
            int base = r * ld;
            rowRange(w, base, colFrom, colTo, scheme.symmetric(), range);
            float lo = range[0], hi = range[1];
            float s = (hi - lo) / maxq;
            float z = scheme.symmetric() ? (maxq + 1) / 2f : (float) Math.rint(-lo / s);
            if (clip != null) {
                double best = Double.POSITIVE_INFINITY;
                float bestScale = s, bestZero = z;
                for (int i = 0; i < clip.steps(); i++) {
                    float p = (float) (1 - (double) i / clip.grid()); // the Python float, applied to an f32 tensor
                    float lo1 = p * lo, hi1 = p * hi;
                    float s1 = (hi1 - lo1) / maxq;
                    float z1 = scheme.symmetric() ? z : (float) Math.rint(-lo1 / s1);
                    double err = 0;
                    for (int c = colFrom; c < colTo; c++) {
                        float v = w[base + c];
                        float d = dequantize(quantize(v, s1, z1, maxq), s1, z1) - v;
                        err += Math.pow(Math.abs(d), clip.norm());
                    }
                    if (err < best) {
                        best = err;
                        bestScale = s1;
                        bestZero = z1;
                    }
                }
                s = bestScale;
                z = bestZero;
            }
            if (floor != null && !scheme.symmetric() && z < floor.min()) {
                int m = floor.min();
                s = Math.max(-lo / m, hi / (maxq - m));
                z = m;
                floor.widened().increment();
            }
            scale[r] = s;
            zero[r] = z;
        }
    }

    /**
     * The range GPTQ's reference quantizer starts from for one row's columns [colFrom, colTo):
     * [torch.minimum(x.min(1), 0), torch.maximum(x.max(1), 0)], widened to ±max|x| when symmetric, [−1, 1] for an
     * all-zero row; written to {@code range} as {lo, hi}.
     */
    private static void rowRange(float[] w, int base, int colFrom, int colTo, boolean symmetric, float[] range) {
        float lo = 0f, hi = 0f;
        for (int c = colFrom; c < colTo; c++) {
            float v = w[base + c];
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        if (symmetric) {
            hi = Math.max(Math.abs(lo), hi);
            if (lo < 0) lo = -hi;
        }
        if (lo == 0 && hi == 0) {
            lo = -1f;
            hi = 1f;
        }
        range[0] = lo;
        range[1] = hi;
    }

    /**
     * Row parameters at a given shrink of the min/max range: for row r, the candidate the MSE search calls p =
     * {@code shrink[r]} ([p·lo, p·hi], scale and zero formed as there), then the zero floor as in
     * {@link #findParams(float[], int, int, int, int, QuantScheme, ClipSearch, ZeroFloor, float[], float[])}.
     * Used by the GPTQ-loss clip search, which scores each shrink by a whole sweep.
     */
    public static void paramsAtShrink(float[] w, int ld, int rows, int colFrom, int colTo, QuantScheme scheme,
                                      float[] shrink, ZeroFloor floor, float[] scale, float[] zero) {
        int maxq = scheme.maxq();
        float[] range = new float[2];
        for (int r = 0; r < rows; r++) {
            int base = r * ld;
            rowRange(w, base, colFrom, colTo, scheme.symmetric(), range);
            float lo = range[0], hi = range[1];
            float p = shrink[r];
            float lo1 = p * lo, hi1 = p * hi;
            float s = (hi1 - lo1) / maxq;
            float z = scheme.symmetric() ? (maxq + 1) / 2f : (float) Math.rint(-lo1 / s);
            if (floor != null && !scheme.symmetric() && z < floor.min()) {
                int m = floor.min();
                s = Math.max(-lo1 / m, hi1 / (maxq - m));
                z = m;
                floor.widened().increment();
            }
            scale[r] = s;
            zero[r] = z;
        }
    }

    /** The code q = clamp(rint(w / scale) + zero, 0, maxq), an integer held in an f32 as in the reference. */
    public static float quantize(float w, float scale, float zero, int maxq) {
        float q = (float) Math.rint(w / scale) + zero;
        return Math.max(0f, Math.min(q, (float) maxq));
    }

    /** ŵ = scale · (q − zero). */
    public static float dequantize(float q, float scale, float zero) {
        return scale * (q - zero);
    }

    /**
     * Rejects what no quantizer can handle, with a message naming the tensor: a size mismatch, a non-finite weight,
     * a group size that does not divide the row.
     */
    public static void checkWeights(String name, float[] w, int rows, int cols, QuantScheme scheme) {
        if (rows < 0 || cols <= 0 || w.length != (long) rows * cols) {
            throw new IllegalArgumentException("lowbit: tensor '" + name + "': " + w.length + " weights do not form a " + rows + " × " + cols + " matrix");
        }
        if (scheme.groupSize() != -1 && cols % scheme.groupSize() != 0) {
            throw new IllegalArgumentException("lowbit: tensor '" + name + "': group size " + scheme.groupSize()
                    + " does not divide in_features " + cols);
        }
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) {
                throw new IllegalArgumentException("lowbit: tensor '" + name + "': weight [" + i / cols + ", " + i % cols + "] is " + w[i]
                        + "; cannot quantize non-finite weights");
            }
        }
    }
}
