package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.lowbit.io.ggml.KQuantRefData.Codec;
import java.lang.foreign.MemorySegment;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Invariants of the ternary codecs TQ1_0 and TQ2_0. */
class TqInvariantsTest {
    static Stream<Codec> codecs() {
        return KQuantGgmlRefTest.codecs().filter(c -> c.name().startsWith("tq"));
    }

    static Codec codec(String name) {
        return codecs().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
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

    /** A constant row is exactly ±fp16(|c|): d = absmax, every trit the same extreme. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void constantRowIsExactUpToFp16(Codec c) {
        for (float v : new float[] {0.37f, -1.5f, 3e-3f}) {
            float fp16 = Float.float16ToFloat(Float.floatToFloat16(v));
            KQuantInvariants.constantRow(c, v, Math.abs(fp16 - v) / Math.abs(v));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void blocksAreIndependent(Codec c) {
        KQuantInvariants.blocksAreIndependent(c);
    }

    /** ggml's ternary quantizers have no search: importance changes nothing. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void importanceIsIgnored(Codec c) {
        float[] x = KQuantInvariants.weights(512, 21);
        float[] imp = new float[512];
        java.util.Arrays.fill(imp, 3f);
        imp[7] = 1000f;
        assertEquals(-1, KQuantInvariants.quantize(c, x, null).mismatch(KQuantInvariants.quantize(c, x, imp)));
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
