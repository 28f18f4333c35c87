package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.ggml.KQuantRefData.Codec;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Invariants particular to the IQ4_NL and IQ4_XS codecs (those of every codec: CodecInvariantsTest). */
class Iq4InvariantsTest {
    static Stream<Codec> codecs() {
        return KQuantGgmlRefTest.codecs().filter(c -> c.name().startsWith("iq4"));
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
