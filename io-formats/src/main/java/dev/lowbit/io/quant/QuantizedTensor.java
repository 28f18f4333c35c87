package dev.lowbit.io.quant;

/**
 * A quantized weight matrix in a layout-free form: writers turn it into a target's packed layout, readers turn a
 * packed layout back into it.
 *
 * <p>The matrix is {@code rows × cols} in PyTorch Linear orientation ({@code rows} = out_features,
 * {@code cols} = in_features). {@code codes[r·cols + c]} is the unsigned integer code q ∈ [0, 2^bits − 1] (stored in
 * a byte, read with {@code & 0xFF}). Column {@code c} belongs to group {@code gIdx[c]}; {@code scales} and
 * {@code zeros} are row-major {@code rows × groups}. Dequantization: ŵ[r,c] = scales[r,g] · (q[r,c] − zeros[r,g])
 * with g = gIdx[c]. Zeros are true zero points (no GPTQ v1 "−1" offset); symmetric schemes store 2^(bits−1).
 */
public record QuantizedTensor(String name, int rows, int cols, QuantScheme scheme,
                              byte[] codes, float[] scales, int[] zeros, int[] gIdx) {
    public QuantizedTensor {
        int groups = groupsOf(gIdx);
        if (codes.length != (long) rows * cols) throw new IllegalArgumentException(name + ": codes length " + codes.length);
        if (gIdx.length != cols) throw new IllegalArgumentException(name + ": g_idx length " + gIdx.length + " != cols " + cols);
        if (scales.length != (long) rows * groups || zeros.length != (long) rows * groups) {
            throw new IllegalArgumentException(name + ": scales/zeros must be rows × groups = " + rows + " × " + groups);
        }
    }

    /** Number of groups: 1 + max(g_idx). */
    public int groups() {
        return groupsOf(gIdx);
    }

    private static int groupsOf(int[] gIdx) {
        int max = -1;
        for (int g : gIdx) max = Math.max(max, g);
        return max + 1;
    }

    /** The default (no act-order) group index: column c is in group c / groupSize. */
    public static int[] sequentialGroups(int cols, QuantScheme scheme) {
        int g = scheme.effectiveGroupSize(cols);
        int[] idx = new int[cols];
        for (int c = 0; c < cols; c++) idx[c] = c / g;
        return idx;
    }

    public int code(int r, int c) {
        return codes[r * cols + c] & 0xFF;
    }

    /** ŵ[r, c] in f32. */
    public float dequantize(int r, int c) {
        int g = gIdx[c];
        int i = r * groups() + g;
        return scales[i] * (code(r, c) - zeros[i]);
    }

    /** The whole dequantized matrix, row-major. */
    public float[] dequantize() {
        int groups = groups();
        float[] w = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int i = r * groups + gIdx[c];
                w[r * cols + c] = scales[i] * ((codes[r * cols + c] & 0xFF) - zeros[i]);
            }
        }
        return w;
    }
}
