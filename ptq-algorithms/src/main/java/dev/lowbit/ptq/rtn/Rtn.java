package dev.lowbit.ptq.rtn;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.ptq.scheme.ClipSearch;
import dev.lowbit.ptq.scheme.GroupQuantizer;
import dev.lowbit.ptq.scheme.ZeroFloor;

/**
 * Round-to-nearest: every group of every row gets its own min/max (scale, zero) from {@link GroupQuantizer}, and each
 * weight is rounded independently, q = clamp(rint(w / scale) + zero, 0, maxq). Bit-identical to the GPTQ reference's
 * {@code find_params} + {@code quantize} in f32.
 */
public final class Rtn {
    private Rtn() {}

    /** RTN of a {@code rows × cols} row-major weight (PyTorch Linear orientation: rows = out_features). */
    public static QuantizedTensor rtn(String name, float[] w, int rows, int cols, QuantScheme s) {
        return rtn(name, w, rows, cols, s, null);
    }

    /** RTN with an optional MSE clipping search ({@code clip} null = plain min/max). */
    public static QuantizedTensor rtn(String name, float[] w, int rows, int cols, QuantScheme s, ClipSearch clip) {
        return rtn(name, w, rows, cols, s, clip, null);
    }

    /** RTN with zero points kept at or above {@code floor.min()} ({@link ZeroFloor}; null = plain min/max). */
    public static QuantizedTensor rtn(String name, float[] w, int rows, int cols, QuantScheme s, ClipSearch clip,
                                      ZeroFloor floor) {
        GroupQuantizer.checkWeights(name, w, rows, cols, s);
        int gs = s.effectiveGroupSize(cols);
        int groups = s.groupCount(cols);
        int maxq = s.maxq();
        byte[] codes = new byte[rows * cols];
        float[] scales = new float[rows * groups];
        int[] zeros = new int[rows * groups];
        float[] scale = new float[rows], zero = new float[rows];
        for (int g = 0; g < groups; g++) {
            int from = g * gs, to = Math.min(cols, from + gs);
            GroupQuantizer.findParams(w, cols, rows, from, to, s, clip, floor, scale, zero);
            for (int r = 0; r < rows; r++) {
                scales[r * groups + g] = scale[r];
                zeros[r * groups + g] = (int) zero[r];
                for (int c = from; c < to; c++) {
                    codes[r * cols + c] = (byte) GroupQuantizer.quantize(w[r * cols + c], scale[r], zero[r], maxq);
                }
            }
        }
        return new QuantizedTensor(name, rows, cols, s, codes, scales, zeros, QuantizedTensor.sequentialGroups(cols, s));
    }

    /**
     * Whether {@link #fakeQuantizeInPlace} handles {@code s}: integer codes on a uniform grid (the form whose
     * dequantization is scale·(q − zero)).
     */
    public static boolean fakeQuantizesInPlace(QuantScheme s) {
        return s.element() == QuantScheme.ElementType.INT && !s.nonUniform();
    }

    /**
     * {@code rtn(name, w, rows, cols, s).dequantize()} written over {@code w}, without the codes: each group's (scale,
     * zero) comes from the group's values as they are (a group's columns are read before any of them is written, and
     * no other group reads them), then each value becomes scale·(q − zero) with q as {@link #rtn} rounds it and zero
     * as it stores it (an int), in the same f32 operations as {@link QuantizedTensor#dequantize()}: bit-identical.
     * What AWQ's scale search runs per candidate (at a 7B gate_proj no 45 MB of codes nor second 180 MB array).
     *
     * @throws IllegalArgumentException for a scheme {@link #fakeQuantizesInPlace} refuses
     */
    public static void fakeQuantizeInPlace(String name, float[] w, int rows, int cols, QuantScheme s) {
        if (!fakeQuantizesInPlace(s)) throw new IllegalArgumentException(name + ": no in-place fake quantization for " + s);
        GroupQuantizer.checkWeights(name, w, rows, cols, s);
        int gs = s.effectiveGroupSize(cols);
        int groups = s.groupCount(cols);
        int maxq = s.maxq();
        float[] scale = new float[rows], zero = new float[rows];
        for (int g = 0; g < groups; g++) {
            int from = g * gs, to = Math.min(cols, from + gs);
            GroupQuantizer.findParams(w, cols, rows, from, to, s, null, null, scale, zero);
            for (int r = 0; r < rows; r++) {
                int z = (int) zero[r];
                for (int c = from; c < to; c++) {
                    int q = ((byte) GroupQuantizer.quantize(w[r * cols + c], scale[r], zero[r], maxq)) & 0xFF;
                    w[r * cols + c] = scale[r] * (q - z);
                }
            }
        }
    }
}
