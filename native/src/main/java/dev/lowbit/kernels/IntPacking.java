package dev.lowbit.kernels;

/**
 * Packing of unsigned b-bit codes (1 ≤ b ≤ 8) into little-endian int32 words, LSB first, in the two layouts the
 * checkpoint formats use:
 *
 * <ul>
 *   <li><b>dense</b>: one bit stream; value i occupies bits [b·i, b·i + b) of the stream, word w holds stream bits
 *       [32w, 32w + 32), so for b ∤ 32 values straddle word boundaries. GPTQ's {@code qweight}/{@code qzeros}
 *       (3-bit: 32 values in 3 words) and current compressed-tensors {@code pack_to_int32} use this.</li>
 *   <li><b>word-aligned</b>: ⌊32/b⌋ values per word, value i in word i / ⌊32/b⌋ at bit b·(i mod ⌊32/b⌋), the top
 *       32 mod b bits unused (3-bit: 10 per word). compressed-tensors between its PRs #715 and #732 used this.</li>
 * </ul>
 *
 * For b ∈ {1, 2, 4, 8} the two layouts are the same. Unused bits are written as zero and ignored when reading.
 */
public final class IntPacking {
    private IntPacking() {}

    /** Words needed for {@code count} values in the dense layout: ⌈count·b/32⌉. */
    public static int denseWords(int count, int bits) {
        return Math.toIntExact(Math.ceilDiv((long) count * bits, 32L));
    }

    /** Words needed for {@code count} values in the word-aligned layout: ⌈count/⌊32/b⌋⌉. */
    public static int alignedWords(int count, int bits) {
        return Math.ceilDiv(count, 32 / bits);
    }

    /** Packs {@code values[vOff..vOff+count)} densely into {@code words[wOff..]} (those words are overwritten). */
    public static void packDense(int[] values, int vOff, int count, int bits, int[] words, int wOff) {
        checkBits(bits);
        java.util.Arrays.fill(words, wOff, wOff + denseWords(count, bits), 0);
        for (int i = 0; i < count; i++) {
            int v = checkValue(values[vOff + i], bits);
            long bit = (long) bits * i;
            int w = wOff + (int) (bit >>> 5);
            int shift = (int) (bit & 31);
            words[w] |= v << shift;
            if (shift + bits > 32) words[w + 1] |= v >>> (32 - shift); // the high bits spill into the next word
        }
    }

    /** Reads {@code count} values from the dense layout at {@code words[wOff..]} into {@code values[vOff..]}. */
    public static void unpackDense(int[] words, int wOff, int count, int bits, int[] values, int vOff) {
        checkBits(bits);
        int mask = (1 << bits) - 1;
        for (int i = 0; i < count; i++) {
            long bit = (long) bits * i;
            int w = wOff + (int) (bit >>> 5);
            int shift = (int) (bit & 31);
            int v = words[w] >>> shift;
            if (shift + bits > 32) v |= words[w + 1] << (32 - shift);
            values[vOff + i] = v & mask;
        }
    }

    /** Packs {@code values[vOff..vOff+count)} word-aligned into {@code words[wOff..]} (those words are overwritten). */
    public static void packAligned(int[] values, int vOff, int count, int bits, int[] words, int wOff) {
        checkBits(bits);
        int perWord = 32 / bits;
        java.util.Arrays.fill(words, wOff, wOff + alignedWords(count, bits), 0);
        for (int i = 0; i < count; i++) {
            words[wOff + i / perWord] |= checkValue(values[vOff + i], bits) << (bits * (i % perWord));
        }
    }

    /** Reads {@code count} values from the word-aligned layout at {@code words[wOff..]} into {@code values[vOff..]}. */
    public static void unpackAligned(int[] words, int wOff, int count, int bits, int[] values, int vOff) {
        checkBits(bits);
        int perWord = 32 / bits;
        int mask = (1 << bits) - 1;
        for (int i = 0; i < count; i++) {
            values[vOff + i] = (words[wOff + i / perWord] >>> (bits * (i % perWord))) & mask;
        }
    }

    private static void checkBits(int bits) {
        if (bits < 1 || bits > 8) throw new IllegalArgumentException("bits must be 1..8, got " + bits);
    }

    private static int checkValue(int v, int bits) {
        if (v < 0 || v >= 1 << bits) {
            throw new IllegalArgumentException("value " + v + " does not fit in " + bits + " unsigned bits");
        }
        return v;
    }
}
