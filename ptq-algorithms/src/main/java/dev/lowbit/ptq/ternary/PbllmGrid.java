package dev.lowbit.ptq.ternary;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;
import dev.lowbit.ptq.grid.Grid;
import java.util.List;

/**
 * PB-LLM (partially binarized LLM, hahnyuan/PB-LLM {@code gptq_pb}): a fraction of the weights, chosen once by
 * Hessian salience, keep 8 bits; every other weight is binarized; GPTQ's sweep pushes each weight's error onto the
 * columns not yet quantized.
 * <pre>
 *   salient (mask set):  Ŵ[r, c] = s[r] · clamp(round(w / s[r]), −127, 127),   s[r] = max |W[r, c]| over the row's salient weights / 127
 *   otherwise:           Ŵ[r, c] = α[r, g] · sign(w),   α[r, g] = Σ h_c |w| / Σ h_c over the group's non-salient weights
 * </pre>
 * The mask and the salient scales come from the original weights (as the reference fixes its mask once); the binary
 * scales are fitted when the sweep reaches a group, on the weights as compensated so far, weighted by diag(H) (as
 * {@link BinaryGrid}). All scales are f16. Stored as one 1-bit trit-plane plus the salient weights (format version 3).
 *
 * <p>Differences from the reference: no row mean μ (the trit-plane format has no offset; {@link BinaryGrid} drops it
 * too), the binary scale per row-group instead of per row and weighted by diag(H), and the salient weights symmetric
 * per row (the reference's 8-bit quantizer is asymmetric per channel: at 8 bits the difference is far below the
 * binarization error).
 */
public final class PbllmGrid implements Grid {
    private final String name;
    private final QuantScheme scheme;
    private final int rows, cols, group, groups;
    private final byte[] mask;
    private final float[] salientScale;
    private final byte[] signs, codes;
    private final float[] alpha;

    /** One 1-bit plane with f16 scales per group (the salient weights travel beside it). */
    public static QuantScheme scheme(int groupSize) {
        return Ptqtp.scheme(groupSize, 1, 1.0);
    }

    /**
     * @param weight the original weights (rows × cols): the salient weights' scales come from them
     * @param mask   1 where a weight is salient (rows × cols)
     */
    public PbllmGrid(String name, QuantScheme scheme, float[] weight, int rows, int cols, byte[] mask) {
        if (scheme.element() != QuantScheme.ElementType.TERNARY || scheme.planes() != 1) {
            throw new IllegalArgumentException(name + ": PB-LLM writes one binary plane, not " + scheme);
        }
        if (mask.length != (long) rows * cols || weight.length != mask.length) {
            throw new IllegalArgumentException(name + ": mask / weights do not form " + rows + " × " + cols);
        }
        this.name = name;
        this.scheme = scheme;
        this.rows = rows;
        this.cols = cols;
        this.group = scheme.effectiveGroupSize(cols);
        if (cols % group != 0) throw new IllegalArgumentException(name + ": group size " + group + " does not divide the row of " + cols);
        this.groups = cols / group;
        this.mask = mask.clone();
        this.salientScale = new float[rows];
        for (int r = 0; r < rows; r++) {
            double max = 0;
            for (int c = 0; c < cols; c++) if (mask[r * cols + c] != 0) max = Math.max(max, Math.abs(weight[r * cols + c]));
            salientScale[r] = f16(max / 127);
        }
        this.signs = new byte[rows * cols];
        this.codes = new byte[rows * cols];
        this.alpha = new float[rows * groups];
    }

    @Override
    public void reach(int j, int c, Sweep sweep) {
        if (j != c) throw new IllegalStateException(name + ": PB-LLM groups need columns in order (no act-order)");
        if (c % group != 0) return;
        int k = c / group;
        for (int r = 0; r < rows; r++) {
            double num = 0, den = 0;
            for (int i = c; i < c + group; i++) {
                if (mask[r * cols + i] != 0) continue;
                double h = sweep.importance(i);
                num += h * Math.abs(sweep.current(r, i));
                den += h;
            }
            alpha[r * groups + k] = f16(den > 0 ? num / den : 0);
        }
    }

    @Override
    public float quantize(int r, int j, int c, float x) {
        int i = r * cols + c;
        if (mask[i] != 0) {
            float s = salientScale[r];
            int q = s == 0 ? 0 : (int) Math.max(-127, Math.min(127, Math.rint(x / s)));
            codes[i] = (byte) q;
            signs[i] = 0; // the plane's bit under a salient weight is 0 (code 0)
            return s * q;
        }
        boolean positive = x >= 0;
        signs[i] = (byte) (positive ? 2 : 0);
        float a = alpha[r * groups + c / group];
        return positive ? a : -a;
    }

    /** The swept matrix: the sign plane (codes 0, 2) and the salient weights. */
    public QuantizedTensor result() {
        return new QuantizedTensor(name, rows, cols, scheme, List.of(new QuantizedTensor.Plane(signs.clone(), alpha.clone(), null, null, null)),
                QuantizedTensor.sequentialGroups(cols, scheme), 1f, new QuantizedTensor.Salient(mask.clone(), codes.clone(), salientScale.clone()));
    }

    /**
     * PB-LLM's salient weights: the {@code count} elements of largest w² / d_c² over the whole matrix, d_c = U_cc of the
     * upper Cholesky factor of H⁻¹ ({@code --salient_metric hessian}); {@code d} null ranks by w² alone. Ties keep the
     * lower index (row-major).
     */
    public static byte[] salientMask(float[] weight, int rows, int cols, double[] d, int count) {
        int n = rows * cols;
        double[] score = new double[n];
        for (int i = 0; i < n; i++) {
            double w = weight[i];
            score[i] = d == null ? w * w : w * w / (d[i % cols] * d[i % cols]);
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> score[a] != score[b] ? Double.compare(score[b], score[a]) : Integer.compare(a, b));
        byte[] m = new byte[n];
        for (int i = 0; i < Math.min(count, n); i++) m[order[i]] = 1;
        return m;
    }

    private static float f16(double v) {
        return FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) v));
    }
}
