package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.lowbit.io.ggml.KQuantRefData.Codec;
import java.lang.foreign.MemorySegment;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Invariants particular to the ternary codecs TQ1_0 and TQ2_0 (those of every codec: CodecInvariantsTest). */
class TqInvariantsTest {
    static Stream<Codec> codecs() {
        return KQuantGgmlRefTest.codecs().filter(c -> c.name().startsWith("tq"));
    }

    static Codec codec(String name) {
        return codecs().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
    }

    /** Every TQ1_0 byte decodes to trits that re-encode (ceil(v·256/243)) to the same byte; TQ2_0 never uses code 3. */
    @Test
    void codesAreCanonical() {
        float[] x = KQuantInvariants.weights(256 * 6, 31);
        MemorySegment q1 = KQuantInvariants.quantize(codec("tq1_0"), x, null);
        for (long b = 0; b < 6; b++) {
            for (int i = 0; i < 52; i++) {
                int byt = KQuantBits.u8(q1, b * 54 + i);
                int v = 0;
                for (int t = 0; t < 5; t++) {
                    int trit = (((byt * new int[] {1, 3, 9, 27, 81}[t]) & 0xFF) * 3) >> 8;
                    v = v * 3 + trit;
                }
                assertEquals(byt, (v * 256 + 242) / 243, "byte " + i + " of block " + b);
            }
        }
        MemorySegment q2 = KQuantInvariants.quantize(codec("tq2_0"), x, null);
        for (long b = 0; b < 6; b++) {
            for (int i = 0; i < 64; i++) {
                int byt = KQuantBits.u8(q2, b * 66 + i);
                for (int t = 0; t < 4; t++) assertNotEquals(3, (byt >> (2 * t)) & 3);
            }
        }
    }
}
