package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.ggml.KQuantRefData.Codec;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Invariants of the IQ4_NL and IQ4_XS codecs. */
class Iq4InvariantsTest {
    static Stream<Codec> codecs() {
        return KQuantGgmlRefTest.codecs().filter(c -> c.name().startsWith("iq4"));
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
        // one table entry times the (fp16, for IQ4_XS also 6-bit) scale: fp16 and the 1/32 scale step remain
        for (float v : new float[] {0.37f, -1.5f, 3e-3f}) KQuantInvariants.constantRow(c, v, 0.04f);
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


    /** IQ4_XS block scales decode into [−32, 31] and the largest block sits at the −32 end (d = −max/32). */
    @Test
    void iq4XsScalesInRange() {
        Codec xs = codecs().filter(c -> c.name().equals("iq4_xs")).findFirst().orElseThrow();
        var q = KQuantInvariants.quantize(xs, KQuantInvariants.weights(256 * 4, 13), null);
        for (int b = 0; b < 4; b++) {
            int scalesH = KQuantBits.u16(q, b * 136L + 2);
            boolean sawMin = false;
            for (int ib = 0; ib < 8; ib++) {
                int ls = ((KQuantBits.u8(q, b * 136L + 4 + ib / 2) >> (4 * (ib % 2))) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
                sawMin |= ls == 0;
            }
            assertTrue(sawMin, "block " + b + ": no sub-block at scale −32");
        }
    }
}
