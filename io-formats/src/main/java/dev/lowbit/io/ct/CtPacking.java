package dev.lowbit.io.ct;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.kernels.FloatFormats;

/**
 * Codec between {@link QuantizedTensor} and compressed-tensors {@code pack-quantized} tensors ({@link CtTensors}),
 * integer weights of 1 to 8 bits.
 *
 * <p>compressed-tensors quantizes to signed codes q_s ∈ [−2^(b−1), 2^(b−1) − 1] with signed zero points z_s
 * (0 when symmetric): x̂ = s · (q_s − z_s). Packing adds 2^(b−1) to both, so with lowbit's unsigned q and true zero
 * z the stored values are q = q_s + 2^(b−1) and z = z_s + 2^(b−1), and x̂ = s · (q − z) is unchanged. Symmetric
 * tensors store no zero point; their true zero is 2^(b−1).
 *
 * <p>Any N and K are allowed (the last word of a row is zero-padded). Scales are rounded to the scale dtype
 * (nearest even); a scale that overflows it is refused.
 */
public final class CtPacking {
    private CtPacking() {}

    /**
     * Packs {@code q} (rows = N, cols = K).
     *
     * @param scaleDType  BF16 or F16, the model's dtype
     * @param layout      word layout of {@code weight_packed} and {@code weight_zero_point}
     * @param writeGIdx   write {@code weight_g_idx} (needed with act-order {@code group}; pointless otherwise)
     */
    public static CtTensors pack(QuantizedTensor q, DType scaleDType, CtPackLayout layout, boolean writeGIdx) {
        QuantScheme scheme = q.scheme();
        int bits = scheme.bits();
        int n = q.rows(), k = q.cols(), groups = q.groups();
        int mid = 1 << (bits - 1);
        if (scheme.symmetric()) {
            for (int i = 0; i < q.zeros().length; i++) {
                if (q.zeros()[i] != mid) {
                    throw new IllegalArgumentException(q.name() + ": symmetric scheme but zero point " + q.zeros()[i]
                            + " at row " + i / groups + ", group " + i % groups + " (compressed-tensors implies " + mid + ")");
                }
            }
        } else {
            for (int i = 0; i < q.zeros().length; i++) {
                if (q.zeros()[i] < 0 || q.zeros()[i] > scheme.maxq()) {
                    throw new IllegalArgumentException(q.name() + ": zero point " + q.zeros()[i] + " at row " + i / groups
                            + ", group " + i % groups + " outside the signed int" + bits + " range of weight_zero_point");
                }
            }
        }

        int kWords = layout.words(k, bits);
        int[] weightPacked = new int[n * kWords];
        int[] row = new int[k];
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < k; c++) row[c] = q.code(r, c);
            layout.pack(row, 0, k, bits, weightPacked, r * kWords);
        }

        short[] weightScale = new short[n * groups];
        for (int i = 0; i < weightScale.length; i++) {
            float s = q.scales()[i];
            short h = scaleDType == DType.BF16 ? FloatFormats.f32ToBf16(s) : FloatFormats.f32ToF16(s);
            float back = scaleDType == DType.BF16 ? FloatFormats.bf16ToF32(h) : FloatFormats.f16ToF32(h);
            if (Float.isNaN(s) || Float.isFinite(s) && !Float.isFinite(back)) {
                throw new IllegalArgumentException(q.name() + ": scale " + s + " at row " + i / groups + ", group "
                        + i % groups + " is not representable in " + scaleDType.wireName());
            }
            weightScale[i] = h;
        }

        int[] weightZeroPoint = null;
        if (!scheme.symmetric()) {
            // packed along dim 0: for each group, the column of N zero points becomes words(N) words
            int nWords = layout.words(n, bits);
            weightZeroPoint = new int[nWords * groups];
            int[] column = new int[n];
            int[] packed = new int[nWords];
            for (int g = 0; g < groups; g++) {
                for (int r = 0; r < n; r++) column[r] = q.zeros()[r * groups + g];
                layout.pack(column, 0, n, bits, packed, 0);
                for (int w = 0; w < nWords; w++) weightZeroPoint[w * groups + g] = packed[w];
            }
        }
        return new CtTensors(bits, layout, n, k, groups, weightPacked, scaleDType, weightScale, weightZeroPoint,
                new long[] {n, k}, writeGIdx ? q.gIdx().clone() : null);
    }

    /**
     * Unpacks. {@code scheme} comes from the config group (bits, symmetric, group size); when the tensors carry no
     * {@code weight_g_idx}, g_idx is the sequential k / group_size.
     */
    public static QuantizedTensor unpack(String name, CtTensors t, QuantScheme scheme) {
        int bits = t.bits();
        if (scheme.bits() != bits) throw new IllegalArgumentException(name + ": scheme has " + scheme.bits() + " bits, tensors " + bits);
        if (scheme.symmetric() != (t.weightZeroPoint() == null)) {
            throw new IllegalArgumentException(name + ": scheme is " + (scheme.symmetric() ? "symmetric but" : "asymmetric but no")
                    + " weight_zero_point is present");
        }
        int n = t.outFeatures(), k = t.inFeatures(), groups = t.groups();
        int[] gIdx = t.weightGIdx() != null ? t.weightGIdx().clone() : QuantizedTensor.sequentialGroups(k, scheme);
        int maxGroup = -1;
        for (int c = 0; c < k; c++) {
            if (gIdx[c] < 0 || gIdx[c] >= groups) {
                throw new IllegalArgumentException(name + ": g_idx[" + c + "] = " + gIdx[c] + " outside 0.." + (groups - 1));
            }
            maxGroup = Math.max(maxGroup, gIdx[c]);
        }
        if (maxGroup + 1 != groups) {
            throw new IllegalArgumentException(name + ": weight_scale has " + groups + " groups but g_idx uses " + (maxGroup + 1));
        }

        int kWords = t.layout().words(k, bits);
        byte[] codes = new byte[n * k];
        int[] row = new int[k];
        for (int r = 0; r < n; r++) {
            t.layout().unpack(t.weightPacked(), r * kWords, k, bits, row, 0);
            for (int c = 0; c < k; c++) codes[r * k + c] = (byte) row[c];
        }

        float[] scales = new float[n * groups];
        for (int i = 0; i < scales.length; i++) {
            short h = t.weightScale()[i];
            scales[i] = t.scaleDType() == DType.BF16 ? FloatFormats.bf16ToF32(h) : FloatFormats.f16ToF32(h);
        }

        int[] zeros = new int[n * groups];
        if (t.weightZeroPoint() == null) {
            java.util.Arrays.fill(zeros, 1 << (bits - 1));
        } else {
            int nWords = t.layout().words(n, bits);
            int[] packed = new int[nWords];
            int[] column = new int[n];
            for (int g = 0; g < groups; g++) {
                for (int w = 0; w < nWords; w++) packed[w] = t.weightZeroPoint()[w * groups + g];
                t.layout().unpack(packed, 0, n, bits, column, 0);
                for (int r = 0; r < n; r++) zeros[r * groups + g] = column[r];
            }
        }
        return new QuantizedTensor(name, n, k, scheme, codes, scales, zeros, gIdx);
    }
}
