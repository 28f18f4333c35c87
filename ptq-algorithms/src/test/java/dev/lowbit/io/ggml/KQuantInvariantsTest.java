package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.ggml.KQuantRefData.Codec;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Invariants of the Q2_K..Q6_K codecs and of the search helpers they share. */
class KQuantInvariantsTest {
    static Stream<Codec> codecs() {
        return KQuantGgmlRefTest.codecs().filter(c -> c.name().endsWith("_K"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void rejectsNonFinite(Codec c) {
        KQuantInvariants.rejectsNonFinite(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void rejectsBadGeometry(Codec c) {
        KQuantInvariants.rejectsBadGeometry(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void allZeroRow(Codec c) {
        KQuantInvariants.allZeroRow(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void constantRow(Codec c) {
        // a constant block is one level times one scale: only the fp16 rounding of d and the 4/6-bit sub-scales
        // (relative step ≤ 1/15 for Q2_K's 4-bit scales, on a value at the top of its range) remain
        for (float v : new float[] {0.37f, -1.5f, 3e-3f}) KQuantInvariants.constantRow(c, v, 0.07f);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void blocksAreIndependent(Codec c) {
        KQuantInvariants.blocksAreIndependent(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void importanceDoesNotHurtWeightedError(Codec c) {
        KQuantInvariants.importanceDoesNotHurtWeightedError(c);
    }

    /** Q6_K codes: 8-bit scales within [−128, 127]; Q3_K: every 6-bit scale decodes into [−32, 31]. */
    @Test
    void scaleFieldsInRange() {
        float[] x = KQuantInvariants.weights(256 * 8, 9);
        MemorySegment q6 = KQuantInvariants.quantize(KQuantGgmlRefTest.codecs().filter(c -> c.name().equals("q6_K"))
                .findFirst().orElseThrow(), x, null);
        int maxAbs = 0;
        for (int b = 0; b < 8; b++) {
            for (int j = 0; j < 16; j++) {
                byte s = q6.get(java.lang.foreign.ValueLayout.JAVA_BYTE, b * 210L + 192 + j);
                maxAbs = Math.max(maxAbs, Math.abs(s));
            }
        }
        assertTrue(maxAbs >= 120 && maxAbs <= 128, "largest Q6_K sub-scale should sit at the top of int8: " + maxAbs);
        MemorySegment q3 = KQuantInvariants.quantize(KQuantGgmlRefTest.codecs().filter(c -> c.name().equals("q3_K"))
                .findFirst().orElseThrow(), x, null);
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
