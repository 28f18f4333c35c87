package dev.lowbit.ptq.ternary;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import java.util.List;

/**
 * PTQTP ("Post-Training Quantization to Trit-Planes", arXiv 2509.16989): every row-group of G input columns becomes
 * W ≈ α₁·T₁ + α₂·T₂ with T ∈ {−1, 0, 1} and two f16 scales per row-group, fitted by {@link TritPlaneFit} (progressive
 * start, then alternating exhaustive trits / least-squares scales until the error stops falling).
 *
 * <p>Data-free (the paper's loss, Frobenius error of W) or activation-aware: with the diagonal of the calibration
 * Hessian H = Σxxᵀ as per-column importances the loss becomes Σᵣⱼ Hⱼⱼ (Wᵣⱼ − Ŵᵣⱼ)², the diagonal part of the output
 * error tr(ΔW H ΔWᵀ). The error-feedback variant is {@link TritPlaneGrid} under GPTQ's sweep.
 *
 * <p>The result has two {@link QuantScheme.ElementType#TERNARY} planes, codes t + 1 ∈ {0, 1, 2}, f16 scales per group
 * of {@code groupSize} columns and no zero point.
 */
public final class Ptqtp {
    private Ptqtp() {}

    /** The defaults of the paper: groups of 128, at most 50 alternations (gains are small past ~30). */
    public static final int DEFAULT_GROUP = 128;
    public static final int DEFAULT_ITERATIONS = 50;

    /**
     * The scheme of a trit-plane tensor: {@code planes} TERNARY planes, f16 scales per group, codes stored in
     * {@code codeBits} bits each (2 for 2-bit packing, 1.6 for 5 trits a byte).
     */
    public static QuantScheme scheme(int groupSize, int planes, double codeBits) {
        return new QuantScheme(QuantScheme.ElementType.TERNARY, 2, codeBits, QuantScheme.ScaleType.F16,
                QuantScheme.Granularity.group(groupSize), QuantScheme.ZeroPoint.NONE, planes, List.of());
    }

    /** Statistics of one fit, for reports. */
    public record Stats(long groups, long iterations, double loss) {}

    /** A quantized tensor and how the fit went. */
    public record Result(QuantizedTensor tensor, Stats stats) {}

    /**
     * Fits {@code weight} ({@code rows × cols}, row-major) with two trit-planes per group of {@code scheme.groupSize()}.
     *
     * @param importance per input column (e.g. diag H, length cols), or null for the data-free fit
     */
    public static Result quantize(String name, float[] weight, int rows, int cols, QuantScheme scheme, int maxIterations,
                                  double[] importance) {
        return quantize(name, weight, rows, cols, scheme, maxIterations, TritPlaneFit.Start.PROGRESSIVE, importance);
    }

    /** As above, with the alternation's start ({@link TritPlaneFit.Start}). */
    public static Result quantize(String name, float[] weight, int rows, int cols, QuantScheme scheme, int maxIterations,
                                  TritPlaneFit.Start start, double[] importance) {
        check(name, weight, rows, cols, scheme);
        if (importance != null && importance.length != cols) {
            throw new IllegalArgumentException(name + ": " + importance.length + " importances for " + cols + " columns");
        }
        int g = scheme.effectiveGroupSize(cols);
        int groups = cols / g;
        byte[] t1 = new byte[weight.length], t2 = new byte[weight.length];
        float[] s1 = new float[rows * groups], s2 = new float[rows * groups];
        double[] d = null;
        if (importance != null) {
            d = new double[weight.length];
            for (int r = 0; r < rows; r++) System.arraycopy(importance, 0, d, r * cols, cols);
        }
        long iterations = 0;
        double loss = 0;
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < groups; k++) {
                TritPlaneFit.Result f = TritPlaneFit.fit(weight, d, r * cols + k * g, g, maxIterations, start, t1, t2);
                s1[r * groups + k] = f.alpha1();
                s2[r * groups + k] = f.alpha2();
                iterations += f.iterations();
                loss += f.loss();
            }
        }
        QuantizedTensor q = tensor(name, rows, cols, scheme, t1, t2, s1, s2);
        return new Result(q, new Stats((long) rows * groups, iterations, loss));
    }

    /** Packs trits (−1, 0, 1) and scales into a two-plane {@link QuantizedTensor} (codes t + 1). */
    static QuantizedTensor tensor(String name, int rows, int cols, QuantScheme scheme, byte[] t1, byte[] t2, float[] s1,
                                  float[] s2) {
        byte[] c1 = new byte[t1.length], c2 = new byte[t2.length];
        for (int i = 0; i < c1.length; i++) {
            c1[i] = (byte) (t1[i] + 1);
            c2[i] = (byte) (t2[i] + 1);
        }
        return new QuantizedTensor(name, rows, cols, scheme,
                List.of(new QuantizedTensor.Plane(c1, s1, null, null, null), new QuantizedTensor.Plane(c2, s2, null, null, null)),
                QuantizedTensor.sequentialGroups(cols, scheme), 1f);
    }

    static void check(String name, float[] weight, int rows, int cols, QuantScheme scheme) {
        if (scheme.element() != QuantScheme.ElementType.TERNARY || scheme.planes() != 2) {
            throw new IllegalArgumentException(name + ": PTQTP writes two ternary planes, not " + scheme);
        }
        if (weight.length != (long) rows * cols) {
            throw new IllegalArgumentException(name + ": " + weight.length + " weights do not form " + rows + " × " + cols);
        }
        int g = scheme.effectiveGroupSize(cols);
        if (cols % g != 0) {
            throw new IllegalArgumentException(name + ": group size " + g + " does not divide the row of " + cols);
        }
        checkFinite(name, weight, rows, cols);
    }

    static void checkFinite(String name, float[] weight, int rows, int cols) {
        if (weight.length != (long) rows * cols) {
            throw new IllegalArgumentException(name + ": " + weight.length + " weights do not form " + rows + " × " + cols);
        }
        for (int i = 0; i < weight.length; i++) {
            if (!Float.isFinite(weight[i])) {
                throw new IllegalArgumentException(name + ": weight [" + i / cols + ", " + i % cols + "] is " + weight[i]);
            }
        }
    }
}
