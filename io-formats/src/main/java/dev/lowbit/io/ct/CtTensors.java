package dev.lowbit.io.ct;

import dev.lowbit.io.tensor.DType;

/**
 * The tensors of one Linear in a compressed-tensors {@code pack-quantized} checkpoint, row-major arrays.
 *
 * <p>With N = out_features, K = in_features, b = bits:
 * <ul>
 *   <li>{@code weight_packed} int32 {@code [N, words(K)]}: row n packs the stored values of row n along K, LSB first.
 *       A stored value is the signed code plus 2^(b−1), which is exactly lowbit's unsigned code q.</li>
 *   <li>{@code weight_scale} {@code [N, groups]} in {@code scaleDType} (BF16 or F16, the model's dtype), raw bits.</li>
 *   <li>{@code weight_zero_point} int32 {@code [words(N), groups]} (asymmetric only, else null): packed along dim 0;
 *       stored value = signed zero point + 2^(b−1) = the true unsigned zero (no −1 as in GPTQ v1).</li>
 *   <li>{@code weight_shape} int64 {@code [2]} = {N, K}.</li>
 *   <li>{@code weight_g_idx} int32 {@code [K]}, optional (null when absent).</li>
 * </ul>
 */
public record CtTensors(int bits, CtPackLayout layout, int outFeatures, int inFeatures, int groups, int[] weightPacked,
                        DType scaleDType, short[] weightScale, int[] weightZeroPoint, long[] weightShape,
                        int[] weightGIdx) {
    public CtTensors {
        if (scaleDType != DType.BF16 && scaleDType != DType.F16) {
            throw new IllegalArgumentException("weight_scale dtype must be BF16 or F16, got " + scaleDType.wireName());
        }
        if (weightShape.length != 2 || weightShape[0] != outFeatures || weightShape[1] != inFeatures) {
            throw new IllegalArgumentException("weight_shape " + java.util.Arrays.toString(weightShape) + " != ["
                    + outFeatures + ", " + inFeatures + "]");
        }
        if (weightPacked.length != (long) outFeatures * layout.words(inFeatures, bits)) {
            throw new IllegalArgumentException("weight_packed has " + weightPacked.length + " words, expected ["
                    + outFeatures + ", " + layout.words(inFeatures, bits) + "]");
        }
        if (weightScale.length != (long) outFeatures * groups) {
            throw new IllegalArgumentException("weight_scale has " + weightScale.length + " values, expected ["
                    + outFeatures + ", " + groups + "]");
        }
        if (weightZeroPoint != null && weightZeroPoint.length != (long) layout.words(outFeatures, bits) * groups) {
            throw new IllegalArgumentException("weight_zero_point has " + weightZeroPoint.length + " words, expected ["
                    + layout.words(outFeatures, bits) + ", " + groups + "]");
        }
        if (weightGIdx != null && weightGIdx.length != inFeatures) {
            throw new IllegalArgumentException("weight_g_idx length " + weightGIdx.length + " != " + inFeatures);
        }
    }

    public long[] weightPackedShape() {
        return new long[] {outFeatures, layout.words(inFeatures, bits)};
    }

    public long[] weightScaleShape() {
        return new long[] {outFeatures, groups};
    }

    public long[] weightZeroPointShape() {
        return new long[] {layout.words(outFeatures, bits), groups};
    }
}
