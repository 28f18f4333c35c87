package dev.lowbit.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class IntPackingTest {

    @Test
    void roundTripsEveryWidthAndAwkwardCount() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (int bits = 1; bits <= 8; bits++) {
            for (int n : new int[] {0, 1, 7, 10, 11, 32, 207, 702}) {
                int[] v = new int[n + 2];
                for (int i = 0; i < v.length; i++) v[i] = rnd.nextInt(1 << bits);
                int[] words = new int[IntPacking.denseWords(n, bits) + 3];
                int[] back = new int[n + 2];
                IntPacking.packDense(v, 1, n, bits, words, 2);
                IntPacking.unpackDense(words, 2, n, bits, back, 1);
                assertArrayEquals(java.util.Arrays.copyOfRange(v, 1, n + 1), java.util.Arrays.copyOfRange(back, 1, n + 1));
                words = new int[IntPacking.alignedWords(n, bits) + 3];
                IntPacking.packAligned(v, 1, n, bits, words, 2);
                IntPacking.unpackAligned(words, 2, n, bits, back, 1);
                assertArrayEquals(java.util.Arrays.copyOfRange(v, 1, n + 1), java.util.Arrays.copyOfRange(back, 1, n + 1));
            }
        }
    }

    /** The dense stream of all ones has every bit set exactly in the first count·b bits. */
    @Test
    void denseStreamHasNoGapsAndNoOverlap() {
        for (int bits = 1; bits <= 8; bits++) {
            int n = 100;
            int[] ones = new int[n];
            java.util.Arrays.fill(ones, (1 << bits) - 1);
            int[] words = new int[IntPacking.denseWords(n, bits)];
            IntPacking.packDense(ones, 0, n, bits, words, 0);
            int total = 0;
            for (int w : words) total += Integer.bitCount(w);
            assertEquals(n * bits, total);
            int lastBits = n * bits - 32 * (words.length - 1);
            assertEquals(lastBits == 32 ? -1 : (1 << lastBits) - 1, words[words.length - 1]);
        }
    }

    @Test
    void rejectsOutOfRangeValues() {
        assertThrows(IllegalArgumentException.class, () -> IntPacking.packDense(new int[] {16}, 0, 1, 4, new int[1], 0));
        assertThrows(IllegalArgumentException.class, () -> IntPacking.packAligned(new int[] {-1}, 0, 1, 3, new int[1], 0));
        assertThrows(IllegalArgumentException.class, () -> IntPacking.packDense(new int[1], 0, 1, 9, new int[1], 0));
    }
}
