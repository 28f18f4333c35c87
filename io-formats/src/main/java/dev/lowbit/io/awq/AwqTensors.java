package dev.lowbit.io.awq;

/**
 * The packed tensors of one Linear in an AutoAWQ {@code version: gemm} checkpoint, as plain row-major arrays.
 *
 * <p>With K = in_features, N = out_features, G = group size (4-bit only, N a multiple of 8):
 * <ul>
 *   <li>{@code qweight} int32 {@code [K, N/8]}: word (k, c) holds the codes q[n, k] of columns n = 8c + ORDER[i] at bit
 *       offset 4i, ORDER = [0, 2, 4, 6, 1, 3, 5, 7].</li>
 *   <li>{@code qzeros} int32 {@code [K/G, N/8]}: the true zero points (no GPTQ "−1"), packed along N the same way.</li>
 *   <li>{@code scales} fp16 bits {@code [K/G, N]}.</li>
 * </ul>
 * Dequantization: W[n, k] = scales[k/G, n] · (q[n, k] − z[k/G, n]).
 */
public record AwqTensors(int inFeatures, int outFeatures, int groupSize, int[] qweight, int[] qzeros, short[] scales) {
    public AwqTensors {
        if (outFeatures % 8 != 0) throw new IllegalArgumentException("out_features " + outFeatures + " is not a multiple of 8");
        if (groupSize <= 0 || inFeatures % groupSize != 0) {
            throw new IllegalArgumentException("group size " + groupSize + " does not divide in_features " + inFeatures);
        }
        int groups = inFeatures / groupSize;
        if (qweight.length != (long) inFeatures * outFeatures / 8) {
            throw new IllegalArgumentException("qweight has " + qweight.length + " words, expected [" + inFeatures + ", " + outFeatures / 8 + "]");
        }
        if (qzeros.length != (long) groups * outFeatures / 8 || scales.length != (long) groups * outFeatures) {
            throw new IllegalArgumentException("qzeros " + qzeros.length + " / scales " + scales.length + " do not match "
                    + groups + " groups × " + outFeatures + " outputs");
        }
    }

    public int groups() {
        return inFeatures / groupSize;
    }

    public long[] qweightShape() {
        return new long[] {inFeatures, outFeatures / 8};
    }

    public long[] qzerosShape() {
        return new long[] {groups(), outFeatures / 8};
    }

    public long[] scalesShape() {
        return new long[] {groups(), outFeatures};
    }
}
