package dev.lowbit.io.ct;

/**
 * How compressed-tensors' {@code pack_to_int32} lays b-bit values into int32 words. The two agree for b = 1, 2, 4, 8
 * and differ for 3, 5, 6, 7 bits; the tensors alone cannot always tell them apart (3-bit with K = 11 needs two
 * words either way), so readers are told which one to expect.
 *
 * <p>History (compressed-tensors, vllm-project): pack-quantized accepted only 4 and 8 bits until PR #715 (May 2026)
 * opened 1–8 bits with ⌊32/b⌋ values per word; PR #732 (June 2026) then switched 3/5/6/7 bits to dense packing.
 * Checkpoints of either kind exist; vLLM's int kernels take 4 and 8 bits only, where the layouts coincide.
 */
public enum CtPackLayout {
    /** ⌊32/b⌋ values per word, the top 32 mod b bits unused (3-bit: 10 per word); compressed-tensors after PR #715. */
    WORD_ALIGNED,
    /** One dense LSB-first bit stream, values straddling words, ⌈K·b/32⌉ words per row; compressed-tensors after PR #732. */
    DENSE;

    /** Words for {@code count} values. */
    public int words(int count, int bits) {
        return this == DENSE
                ? dev.lowbit.kernels.IntPacking.denseWords(count, bits)
                : dev.lowbit.kernels.IntPacking.alignedWords(count, bits);
    }

    void pack(int[] values, int vOff, int count, int bits, int[] words, int wOff) {
        if (this == DENSE) dev.lowbit.kernels.IntPacking.packDense(values, vOff, count, bits, words, wOff);
        else dev.lowbit.kernels.IntPacking.packAligned(values, vOff, count, bits, words, wOff);
    }

    void unpack(int[] words, int wOff, int count, int bits, int[] values, int vOff) {
        if (this == DENSE) dev.lowbit.kernels.IntPacking.unpackDense(words, wOff, count, bits, values, vOff);
        else dev.lowbit.kernels.IntPacking.unpackAligned(words, wOff, count, bits, values, vOff);
    }
}
