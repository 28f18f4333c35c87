package dev.lowbit.ptq.gptq;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.kernels.linalg.LinalgKernels;
import dev.lowbit.ptq.scheme.GroupQuantizer;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * GPTQ (Frantar et al., 2022), step for step as the reference's {@code GPTQ.fasterquant}.
 *
 * <p>Given W (rows × cols) and the layer-input Hessian H = 2/n·Σ x·xᵀ (cols × cols), quantize column by column and
 * push each column's error onto the not-yet-quantized columns, using the upper Cholesky factor U of H⁻¹
 * (H⁻¹ = Uᵀ·U), whose row i holds the OBS update for column i given that columns &lt; i are fixed:
 *
 * <pre>
 *   dead = diag(H) == 0:  H[i,i] = 1, W[:,i] = 0
 *   act-order:  perm = argsort(diag H, descending); W = W[:, perm]; H = H[perm][:, perm]
 *   H += λ·I,  λ = percdamp · mean(diag H)
 *   U = cholesky(cholesky_inverse(cholesky(H)), upper)
 *   for each block [i1, i2) of B columns:                       (lazy batch)
 *     for i in [i1, i2):
 *       (group start: find scale, zero from W[:, i : i+groupsize] — W as of the block start)
 *       q = Q(w_i);   e = (w_i − q) / U[i,i];   loss += (w_i − q)² / U[i,i]² / 2
 *       W[:, i:i2] −= e · U[i, i:i2]                            (inside the block)
 *     W[:, i2:] −= E · U[i1:i2, i2:]                            (once per block: a GEMM)
 *   act-order: undo perm; g_idx[perm[j]] = j / groupsize (static groups: g_idx[c] = c / groupsize)
 * </pre>
 *
 * H⁻¹ and U are computed in f64 (DESIGN: Cholesky and inverses in f64) and the sweep runs in f32 as in the reference.
 */
public final class Gptq {
    private Gptq() {}

    /** GPTQ with the kernels chosen at start-up. */
    public static GptqResult quantize(String name, float[] weight, int rows, int cols, double[] hessian, GptqConfig config) {
        return quantize(name, weight, rows, cols, hessian, config, Linalg.kernels());
    }

    /**
     * GPTQ of a {@code rows × cols} row-major weight (rows = out_features) with the {@code cols × cols} Hessian of
     * its inputs, as {@code HessianObserver.hessian()} returns it. Neither input is modified.
     */
    public static GptqResult quantize(String name, float[] weight, int rows, int cols, double[] hessian,
                                      GptqConfig config, LinalgKernels kernels) {
        long t0 = System.nanoTime();
        QuantScheme scheme = config.scheme();
        GroupQuantizer.checkWeights(name, weight, rows, cols, scheme);
        checkHessian(name, hessian, cols);
        boolean grouped = scheme.groupSize() != -1;
        int groupSize = scheme.effectiveGroupSize(cols);
        int groups = scheme.groupCount(cols);
        int maxq = scheme.maxq();

        float[] w = weight.clone();
        double[] h = hessian.clone();

        // per channel: the reference finds the row parameters once, from W before dead columns are zeroed
        float[] rowScale = new float[rows], rowZero = new float[rows];
        if (!grouped) GroupQuantizer.findParams(w, cols, rows, 0, cols, scheme, config.clip(), config.zeroFloor(), rowScale, rowZero);

        // dead inputs: a column whose input never moved carries no information; fix H and zero the weights
        for (int i = 0; i < cols; i++) {
            if (h[i * cols + i] == 0) {
                h[i * cols + i] = 1;
                for (int r = 0; r < rows; r++) w[r * cols + i] = 0;
            }
        }

        // static groups: parameters from the original column order, before any error is pushed
        float[][] staticScale = null, staticZero = null;
        if (grouped && config.staticGroups()) {
            staticScale = new float[groups][rows];
            staticZero = new float[groups][rows];
            for (int g = 0; g < groups; g++) {
                GroupQuantizer.findParams(w, cols, rows, g * groupSize, (g + 1) * groupSize, scheme, config.clip(), config.zeroFloor(), staticScale[g], staticZero[g]);
            }
        }

        int[] perm = IntStream.range(0, cols).toArray();
        if (config.actOrder()) {
            double[] diag = new double[cols];
            for (int i = 0; i < cols; i++) diag[i] = h[i * cols + i];
            // descending diag(H); ties keep the lower column first (a stable sort — torch.argsort is not)
            perm = IntStream.range(0, cols).boxed()
                    .sorted(Comparator.comparingDouble((Integer i) -> diag[i]).reversed())
                    .mapToInt(Integer::intValue).toArray();
            w = permuteColumns(w, rows, cols, perm);
            h = permuteSymmetric(h, cols, perm);
        }

        double mean = 0;
        for (int i = 0; i < cols; i++) mean += h[i * cols + i];
        double damp = config.percDamp() * (mean / cols);
        for (int i = 0; i < cols; i++) h[i * cols + i] += damp;
        long t1 = System.nanoTime();

        double[] u64;
        try {
            u64 = Linalg.upperCholeskyOfInverse(kernels, cols, h);
        } catch (ArithmeticException e) {
            throw new IllegalStateException("lowbit: GPTQ '" + name + "': Hessian is not positive definite after damping "
                    + config.percDamp() + "·mean(diag H) (" + e.getMessage() + "); raise the damping or use more calibration samples", e);
        }
        float[] hinv = new float[cols * cols];
        for (int i = 0; i < hinv.length; i++) hinv[i] = (float) u64[i];
        long t2 = System.nanoTime();

        // the sweep, in (possibly permuted) column order j
        byte[] codes = new byte[rows * cols];
        float[] scales = new float[rows * groups];
        int[] zeros = new int[rows * groups];
        float[] scale = rowScale, zero = rowZero;
        if (grouped && !config.staticGroups()) {
            scale = new float[rows];
            zero = new float[rows];
        }
        int block = config.blockSize();
        double loss = 0;
        for (int i1 = 0; i1 < cols; i1 += block) {
            int i2 = Math.min(i1 + block, cols), count = i2 - i1;
            float[] w1 = new float[rows * count];
            for (int r = 0; r < rows; r++) System.arraycopy(w, r * cols + i1, w1, r * count, count);
            float[] err1 = new float[rows * count];
            for (int i = 0; i < count; i++) {
                int j = i1 + i;
                if (grouped) {
                    if (!config.staticGroups()) {
                        if (j % groupSize == 0) {
                            // from W, which holds the updates of earlier blocks but not yet this block's (as the reference)
                            GroupQuantizer.findParams(w, cols, rows, j, j + groupSize, scheme, config.clip(), config.zeroFloor(), scale, zero);
                            int g = j / groupSize;
                            for (int r = 0; r < rows; r++) {
                                scales[r * groups + g] = scale[r];
                                zeros[r * groups + g] = (int) zero[r];
                            }
                        }
                    } else {
                        int g = perm[j] / groupSize;
                        scale = staticScale[g];
                        zero = staticZero[g];
                    }
                }
                float d = hinv[j * cols + j];
                int hrow = j * cols + i1;
                for (int r = 0; r < rows; r++) {
                    int at = r * count;
                    float x = w1[at + i];
                    float q = GroupQuantizer.quantize(x, scale[r], zero[r], maxq);
                    float dq = GroupQuantizer.dequantize(q, scale[r], zero[r]);
                    codes[r * cols + j] = (byte) q;
                    float diff = x - dq;
                    loss += (double) (diff * diff / (d * d)) / 2;
                    float e = diff / d;
                    err1[at + i] = e;
                    for (int c = i; c < count; c++) w1[at + c] -= e * hinv[hrow + c];
                }
            }
            Linalg.gptqBlockUpdate(kernels, w, rows, cols, err1, i1, i2, hinv);
        }
        if (!grouped) {
            for (int r = 0; r < rows; r++) {
                scales[r] = rowScale[r];
                zeros[r] = (int) rowZero[r];
            }
        } else if (config.staticGroups()) {
            for (int g = 0; g < groups; g++) {
                for (int r = 0; r < rows; r++) {
                    scales[r * groups + g] = staticScale[g][r];
                    zeros[r * groups + g] = (int) staticZero[g][r];
                }
            }
        }

        // back to the original column order; g_idx says which group's parameters each original column used
        int[] gIdx = new int[cols];
        byte[] out = codes;
        if (config.actOrder()) {
            out = new byte[rows * cols];
            for (int j = 0; j < cols; j++) {
                int c = perm[j];
                for (int r = 0; r < rows; r++) out[r * cols + c] = codes[r * cols + j];
            }
        }
        for (int j = 0; j < cols; j++) {
            gIdx[perm[j]] = config.staticGroups() ? perm[j] / groupSize : j / groupSize;
        }
        long t3 = System.nanoTime();
        QuantizedTensor qt = new QuantizedTensor(name, rows, cols, scheme, out, scales, zeros, gIdx);
        return new GptqResult(qt, loss, new GptqResult.Timing(t1 - t0, t2 - t1, t3 - t2));
    }

    private static void checkHessian(String name, double[] h, int cols) {
        if (h.length != (long) cols * cols) {
            throw new IllegalArgumentException("lowbit: GPTQ '" + name + "': Hessian has " + h.length + " entries, expected " + cols + "² = " + (long) cols * cols);
        }
        for (int i = 0; i < h.length; i++) {
            if (!Double.isFinite(h[i])) {
                throw new IllegalArgumentException("lowbit: GPTQ '" + name + "': Hessian [" + i / cols + ", " + i % cols + "] is " + h[i]);
            }
        }
    }

    private static float[] permuteColumns(float[] w, int rows, int cols, int[] perm) {
        float[] out = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) out[r * cols + j] = w[r * cols + perm[j]];
        }
        return out;
    }

    private static double[] permuteSymmetric(double[] h, int n, int[] perm) {
        double[] out = new double[h.length];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) out[i * n + j] = h[perm[i] * n + perm[j]];
        }
        return out;
    }
}
