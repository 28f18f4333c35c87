package dev.lowbit.ptq.onnx;

/**
 * Symmetric weights in blocks along one axis — the opset-21 blocked form of DequantizeLinear ({@code axis},
 * {@code block_size}): the scale tensor has the weight's shape with {@code dims[axis]} replaced by
 * ⌈dims[axis]/block⌉, and element i uses the scale at its own index with the axis coordinate divided by the block.
 * Per block: scale = max|w| / qmax (int8: 127, int4: 7; zero point 0), q = round_half_even(w/scale) clamped to ±qmax;
 * a block of zeros gets scale 1.
 *
 * @param codes  one signed code per element (int4 codes are −7..7), in the weight's layout
 * @param scales in the blocked scale layout, {@link #scaleDims}
 */
public record BlockedSymmetric(byte[] codes, float[] scales, long[] scaleDims) {
    public static BlockedSymmetric quantize(float[] w, long[] dims, int axis, int block, int bits) {
        if (bits != 4 && bits != 8) throw new IllegalArgumentException("bits must be 4 or 8");
        if (axis < 0 || axis >= dims.length || block < 1) throw new IllegalArgumentException("axis " + axis + " / block " + block);
        int qmax = bits == 8 ? 127 : 7;
        long inner = 1;
        for (int i = axis + 1; i < dims.length; i++) inner *= dims[i];
        long d = dims[axis];
        long blocks = Math.ceilDiv(d, block);
        long[] sd = dims.clone();
        sd[axis] = blocks;
        long scaleCount = 1;
        for (long s : sd) scaleCount *= s;
        double[] max = new double[Math.toIntExact(scaleCount)];
        int[] index = new int[w.length];
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) throw new IllegalArgumentException("weight value " + w[i] + " is not finite");
            long outer = i / (inner * d), a = (i / inner) % d, in = i % inner;
            index[i] = (int) ((outer * blocks + a / block) * inner + in);
            max[index[i]] = Math.max(max[index[i]], Math.abs(w[i]));
        }
        float[] scales = new float[max.length];
        for (int s = 0; s < max.length; s++) {
            float sc = (float) (max[s] / qmax);
            scales[s] = sc > 0 && Float.isFinite(sc) ? sc : 1f;
        }
        byte[] codes = new byte[w.length];
        for (int i = 0; i < w.length; i++) {
            double q = Math.rint(w[i] / scales[index[i]]);
            codes[i] = (byte) Math.max(-qmax, Math.min(qmax, q));
        }
        return new BlockedSymmetric(codes, scales, sd);
    }

    /** int4 codes packed two per byte, element 0 in the low nibble (ONNX INT4 {@code raw_data}). */
    public byte[] packedInt4() {
        byte[] out = new byte[Math.ceilDiv(codes.length, 2)];
        for (int i = 0; i < codes.length; i++) out[i / 2] |= (byte) ((codes[i] & 0x0f) << (4 * (i % 2)));
        return out;
    }
}
