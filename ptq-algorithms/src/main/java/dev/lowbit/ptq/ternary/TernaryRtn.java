package dev.lowbit.ptq.ternary;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;
import java.util.List;

/**
 * Ternary round-to-nearest with an absmax scale per group, as llama.cpp's TQ1_0/TQ2_0 (and BitNet's absmax variant)
 * do it: d = max |w| over the group (stored f16), t = round(w / d) ∈ {−1, 0, 1} (half away from zero, C's lroundf),
 * ŵ = d·t. One TERNARY plane; the baseline that collapses on a model not trained ternary.
 */
public final class TernaryRtn {
    private TernaryRtn() {}

    public static QuantizedTensor quantize(String name, float[] weight, int rows, int cols, QuantScheme scheme) {
        if (scheme.element() != QuantScheme.ElementType.TERNARY || scheme.planes() != 1) {
            throw new IllegalArgumentException(name + ": ternary RTN writes one ternary plane, not " + scheme);
        }
        int g = scheme.effectiveGroupSize(cols);
        if (cols % g != 0) throw new IllegalArgumentException(name + ": group size " + g + " does not divide the row of " + cols);
        if (weight.length != (long) rows * cols) throw new IllegalArgumentException(name + ": shape mismatch");
        int groups = cols / g;
        byte[] codes = new byte[weight.length];
        float[] scales = new float[rows * groups];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < groups; k++) {
                int off = r * cols + k * g;
                float amax = 0;
                for (int j = 0; j < g; j++) {
                    float v = weight[off + j];
                    if (!Float.isFinite(v)) throw new IllegalArgumentException(name + ": weight [" + r + ", " + (k * g + j) + "] is " + v);
                    amax = Math.max(amax, Math.abs(v));
                }
                float id = amax == 0 ? 0 : 1f / amax;
                for (int j = 0; j < g; j++) {
                    float p = weight[off + j] * id;
                    double rounded = Math.copySign(Math.floor(Math.abs((double) p) + 0.5), p);
                    codes[off + j] = (byte) ((int) rounded + 1);
                }
                scales[r * groups + k] = FloatFormats.f16ToF32(FloatFormats.f32ToF16(amax));
            }
        }
        return new QuantizedTensor(name, rows, cols, scheme,
                List.of(new QuantizedTensor.Plane(codes, scales, null, null, null)), QuantizedTensor.sequentialGroups(cols, scheme), 1f);
    }
}
