package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.ggml.KQuantRefData.Codec;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** Invariants particular to the Q2_K..Q6_K codecs (those of every codec: CodecInvariantsTest). */
class KQuantInvariantsTest {
    private static Codec codec(String name) {
        return KQuantGgmlRefTest.codecs().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
    }

    /** Q6_K codes: 8-bit scales within [−128, 127]; Q3_K: every 6-bit scale decodes into [−32, 31]. */
    @Test
    void scaleFieldsInRange() {
        float[] x = KQuantInvariants.weights(256 * 8, 9);
        MemorySegment q6 = KQuantInvariants.quantize(codec("q6_K"), x, null);
        int maxAbs = 0;
        for (int b = 0; b < 8; b++) {
            for (int j = 0; j < 16; j++) {
                byte s = q6.get(java.lang.foreign.ValueLayout.JAVA_BYTE, b * 210L + 192 + j);
                maxAbs = Math.max(maxAbs, Math.abs(s));
            }
        }
        assertTrue(maxAbs >= 120 && maxAbs <= 128, "largest Q6_K sub-scale should sit at the top of int8: " + maxAbs);
        MemorySegment q3 = KQuantInvariants.quantize(codec("q3_K"), x, null);
        boolean sawExtreme = false;
        for (int b = 0; b < 8; b++) {
            for (int j = 0; j < 16; j++) {
                int s = KQuantQ3K.scale(q3, b * 110L, j);
                assertTrue(s >= -32 && s <= 31);
                sawExtreme |= s == -32;
            }
        }
        assertTrue(sawExtreme, "the largest Q3_K sub-scale maps to −32");
    }
}
