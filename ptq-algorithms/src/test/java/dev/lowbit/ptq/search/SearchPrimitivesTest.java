package dev.lowbit.ptq.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.ggml.Iq4Nl;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The rounding primitives the ggml searches share, against ggml's own definitions. */
class SearchPrimitivesTest {
    /** ggml's nearest_int (add 1.5·2²³ in f32, read the mantissa) is rint for |f| ≤ 2²² − 1, ties included. */
    @Test
    void nearestIntIsGgmlsFloatTrick() {
        Random rnd = new Random(5);
        for (int i = 0; i < 200_000; i++) {
            float f = switch (i % 4) {
                case 0 -> (float) (rnd.nextGaussian() * 40);
                case 1 -> rnd.nextInt(2_000_000) - 1_000_000 + 0.5f; // exact halves
                case 2 -> (rnd.nextFloat() - 0.5f) * 8_388_606f;
                default -> Math.nextUp(rnd.nextInt(200) - 100 + 0.5f);
            };
            assertEquals(ggmlNearestInt(f), KQuantSearch.nearestInt(f), () -> "at " + f);
        }
        assertEquals(2, KQuantSearch.nearestInt(2.5f));
        assertEquals(-2, KQuantSearch.nearestInt(-2.5f));
        assertEquals(4, KQuantSearch.nearestInt(3.5f));
    }

    private static int ggmlNearestInt(float f) {
        float v = f + 12582912.f;
        return (Float.floatToRawIntBits(v) & 0x007fffff) - 0x00400000;
    }

    /** best_index_int8 picks the nearest table entry, the upper one on an exact midpoint. */
    @Test
    void bestIndexIsNearestUpperOnTies() {
        int[] t = Iq4Nl.kvalues();
        for (int i = 0; i < 16; i++) assertEquals(i, KQuantSearch.bestIndexInt8(16, t, t[i]));
        assertEquals(0, KQuantSearch.bestIndexInt8(16, t, -1000f));
        assertEquals(15, KQuantSearch.bestIndexInt8(16, t, 1000f));
        assertEquals(8, KQuantSearch.bestIndexInt8(16, t, -4.5f)); // midpoint of −10 and 1
        assertEquals(7, KQuantSearch.bestIndexInt8(16, t, -4.5000005f));
        for (float v = -130; v < 130; v += 0.37f) {
            int got = KQuantSearch.bestIndexInt8(16, t, v);
            for (int k = 0; k < 16; k++) assertTrue(Math.abs(t[got] - v) <= Math.abs(t[k] - v), "at " + v);
        }
    }

    /** lroundf rounds half away from zero: x/d = ±0.5 gives trit 2 / 0, not the even 1. */
    @Test
    void tritsRoundHalfAwayFromZero() {
        assertEquals(2, TernarySearch.trit(0.5f, 1f));
        assertEquals(0, TernarySearch.trit(-0.5f, 1f));
        assertEquals(1, TernarySearch.trit(0.49999997f, 1f));
        assertEquals(1, TernarySearch.trit(-0.49999997f, 1f));
    }
}
