package dev.lowbit.io.gptq;

/**
 * The packed tensors of one Linear in a GPTQ (v1, {@code checkpoint_format: gptq}) checkpoint, as plain arrays in
 * row-major order, ready for a safetensors writer or just read from one.
 *
 * <p>With K = in_features, N = out_features, b = bits and {@code groups} = ⌈K/G⌉ (1 per channel):
 * <ul>
 *   <li>{@code qweight} int32 {@code [K·b/32, N]}: column n is the codes q[0..K) of output row n, packed along K as one
 *       LSB-first bit stream (for b = 2, 4, 8 word r holds k = r·32/b + i at bit b·i; for b = 3, 32 codes fill
 *       3 words and codes 10 and 21 straddle word boundaries).</li>
 *   <li>{@code qzeros} int32 {@code [groups, N·b/32]}: row g is zero−1 of every output n, packed along N the same
 *       way (v1 stores zero − 1: 4-bit symmetric reads 0x77777777).</li>
 *   <li>{@code scales} fp16 bits {@code [groups, N]}.</li>
 *   <li>{@code g_idx} int32 {@code [K]}: group of each input channel.</li>
 * </ul>
 */
public record GptqTensors(int bits, int inFeatures, int outFeatures, int[] qweight, int[] qzeros, short[] scales,
                          int[] gIdx) {
    public GptqTensors {
        int groups = outFeatures == 0 ? 0 : scales.length / outFeatures;
        if (qweight.length != (long) inFeatures * bits / 32 * outFeatures) {
            throw new IllegalArgumentException("qweight has " + qweight.length + " words, expected [" + qweightShape()[0]
                    + ", " + outFeatures + "]");
        }
        if ((long) groups * outFeatures != scales.length || qzeros.length != (long) groups * outFeatures * bits / 32) {
            throw new IllegalArgumentException("scales " + scales.length + " / qzeros " + qzeros.length
                    + " do not match " + groups + " groups × " + outFeatures + " outputs at " + bits + " bits");
        }
        if (gIdx != null && gIdx.length != inFeatures) {
            throw new IllegalArgumentException("g_idx length " + gIdx.length + " != in_features " + inFeatures);
        }
    }

    public int groups() {
        return scales.length / outFeatures;
    }

    public long[] qweightShape() {
        return new long[] {(long) inFeatures * bits / 32, outFeatures};
    }

    public long[] qzerosShape() {
        return new long[] {groups(), (long) outFeatures * bits / 32};
    }

    public long[] scalesShape() {
        return new long[] {groups(), outFeatures};
    }
}
