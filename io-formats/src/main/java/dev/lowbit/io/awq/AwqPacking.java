package dev.lowbit.io.awq;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;

/**
 * Codec between {@link QuantizedTensor} and AutoAWQ {@code gemm} tensors ({@link AwqTensors}): 4-bit, groups of G
 * input channels in order (no g_idx), true zero points. A symmetric scheme is stored as what it is, zero points of 8;
 * it reads back as an asymmetric tensor with the same codes, scales, zeros and dequantized values.
 */
public final class AwqPacking {
    /** Nibble i of a packed word holds column 8c + ORDER[i] (AutoAWQ's {@code order_map}). */
    static final int[] ORDER = {0, 2, 4, 6, 1, 3, 5, 7};

    private AwqPacking() {}

    /**
     * Why {@code q} cannot be stored as AWQ gemm, or null when it can: 4 bits, a group size dividing K (per channel
     * is refused: one group_size must serve every Linear), groups in order, out_features a multiple of 8, zero points 0..15.
     */
    public static String unsupported(QuantScheme scheme, int rows, int cols) {
        if (scheme.bits() != 4) return "AWQ gemm stores 4-bit weights only, not " + scheme.bits() + "-bit";
        if (scheme.element() != QuantScheme.ElementType.INT || scheme.planes() != 1 || scheme.nonUniform()) {
            return "AWQ gemm stores uniform integer codes only, not " + scheme;
        }
        if (rows % 8 != 0) return "out_features " + rows + " is not a multiple of 8 (AWQ packs 8 outputs per int32)";
        if (scheme.groupSize() == -1) return "AWQ gemm needs a group size (its config has one group_size for every Linear)";
        int g = scheme.groupSize();
        if (cols % g != 0) return "group size " + g + " does not divide in_features " + cols;
        return null;
    }

    /** Packs {@code q} (rows = out_features N, cols = in_features K). */
    public static AwqTensors pack(QuantizedTensor q) {
        int n = q.rows(), k = q.cols();
        String why = unsupported(q.scheme(), n, k);
        if (why != null) throw new IllegalArgumentException(q.name() + ": " + why);
        int g = q.scheme().effectiveGroupSize(k);
        int groups = k / g;
        int[] gIdx = q.gIdx();
        for (int c = 0; c < k; c++) {
            if (gIdx[c] != c / g) {
                throw new IllegalArgumentException(q.name() + ": g_idx[" + c + "] = " + gIdx[c]
                        + " is not in order (act-order); AWQ gemm has no g_idx");
            }
        }
        if (q.groups() != groups) throw new IllegalArgumentException(q.name() + ": " + q.groups() + " groups, expected " + groups);
        int words = n / 8;
        int[] qweight = new int[k * words];
        for (int c = 0; c < k; c++) {
            for (int w = 0; w < words; w++) {
                int word = 0;
                for (int i = 0; i < 8; i++) word |= (q.code(8 * w + ORDER[i], c) & 0xF) << (4 * i);
                qweight[c * words + w] = word;
            }
        }
        int[] qzeros = new int[groups * words];
        short[] scales = new short[groups * n];
        for (int gr = 0; gr < groups; gr++) {
            for (int w = 0; w < words; w++) {
                int word = 0;
                for (int i = 0; i < 8; i++) {
                    int r = 8 * w + ORDER[i];
                    int z = q.zeros()[r * groups + gr];
                    if (z < 0 || z > 15) {
                        throw new IllegalArgumentException(q.name() + ": zero point " + z + " at row " + r + ", group " + gr
                                + " does not fit AWQ's 4-bit qzeros (0..15)");
                    }
                    word |= z << (4 * i);
                }
                qzeros[gr * words + w] = word;
            }
            for (int r = 0; r < n; r++) {
                float s = q.scales()[r * groups + gr];
                short h = FloatFormats.f32ToF16(s);
                if (!Float.isFinite(FloatFormats.f16ToF32(h))) {
                    throw new IllegalArgumentException(q.name() + ": scale " + s + " at row " + r + ", group " + gr
                            + " is not representable in fp16");
                }
                scales[gr * n + r] = h;
            }
        }
        return new AwqTensors(k, n, g, qweight, qzeros, scales);
    }

    /** Unpacks AWQ gemm tensors into an asymmetric 4-bit tensor of group size {@code t.groupSize()}. */
    public static QuantizedTensor unpack(String name, AwqTensors t) {
        int n = t.outFeatures(), k = t.inFeatures(), groups = t.groups(), words = n / 8;
        QuantScheme scheme = new QuantScheme(4, t.groupSize(), false);
        byte[] codes = new byte[n * k];
        for (int c = 0; c < k; c++) {
            for (int w = 0; w < words; w++) {
                int word = t.qweight()[c * words + w];
                for (int i = 0; i < 8; i++) codes[(8 * w + ORDER[i]) * k + c] = (byte) ((word >>> (4 * i)) & 0xF);
            }
        }
        float[] scales = new float[n * groups];
        int[] zeros = new int[n * groups];
        for (int gr = 0; gr < groups; gr++) {
            for (int w = 0; w < words; w++) {
                int word = t.qzeros()[gr * words + w];
                for (int i = 0; i < 8; i++) zeros[(8 * w + ORDER[i]) * groups + gr] = (word >>> (4 * i)) & 0xF;
            }
            for (int r = 0; r < n; r++) scales[r * groups + gr] = FloatFormats.f16ToF32(t.scales()[gr * n + r]);
        }
        return new QuantizedTensor(name, n, k, scheme, codes, scales, zeros, QuantizedTensor.sequentialGroups(k, scheme));
    }
}
