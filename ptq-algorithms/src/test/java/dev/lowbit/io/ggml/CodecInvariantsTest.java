package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lowbit.io.ggml.KQuantRefData.Codec;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The invariants every block codec keeps (k-quants, IQ4_NL / IQ4_XS, TQ1_0 / TQ2_0, MXFP4): hostile rows refused, zero
 * and constant rows, blocks independent, importance weights. What is particular to one family stays in its own test
 * ({@code KQuantInvariantsTest}, {@code Iq4InvariantsTest}, {@code TqInvariantsTest}, {@code Mxfp4InvariantsTest}).
 */
class CodecInvariantsTest {
    static Stream<Codec> codecs() {
        return KQuantGgmlRefTest.codecs();
    }

    /** The codecs whose quantizer searches scales with importance weights (ggml's k-quants and IQ4). */
    private static boolean searches(Codec c) {
        return c.name().endsWith("_K") || c.name().startsWith("iq4");
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
    void blocksAreIndependent(Codec c) {
        KQuantInvariants.blocksAreIndependent(c);
    }

    /** A constant row decodes to the value up to what the format's scale and grid cannot represent, per family. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void constantRow(Codec c) {
        for (float v : new float[] {0.37f, -1.5f, 3e-3f}) {
            float fp16 = Float.float16ToFloat(Float.floatToFloat16(v));
            float tolerance = switch (c.name().substring(0, 2)) {
                // one level times one scale: only the fp16 rounding of d and the 4/6-bit sub-scales (relative step
                // ≤ 1/15 for Q2_K's 4-bit scales, on a value at the top of its range) remain
                case "q2", "q3", "q4", "q5", "q6" -> 0.07f;
                // one table entry times the (fp16, for IQ4_XS also 6-bit) scale: fp16 and the 1/32 scale step remain
                case "iq" -> 0.04f;
                // d = absmax, every trit the same extreme: exactly ±fp16(|v|)
                case "tq" -> Math.abs(fp16 - v) / Math.abs(v);
                // E2M1's widest relative gap is between 4 and 6 (doubled: 8 and 12): a value there is off by ≤ 1/5
                case "mx" -> 0.2f;
                default -> throw new AssertionError("no tolerance for " + c.name());
            };
            KQuantInvariants.constantRow(c, v, tolerance);
        }
    }

    /**
     * Importance weights steer a search: the codecs that search (k-quants, IQ4) do not do worse on the weighted error
     * with them; ggml's ternary and MXFP4 quantizers have no search and ignore them, so the bytes do not change.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void importanceWeights(Codec c) {
        if (searches(c)) {
            KQuantInvariants.importanceDoesNotHurtWeightedError(c);
            return;
        }
        float[] x = KQuantInvariants.weights(512, 21);
        float[] imp = new float[512];
        java.util.Arrays.fill(imp, 3f);
        imp[7] = 1000f;
        assertEquals(-1, KQuantInvariants.quantize(c, x, null).mismatch(KQuantInvariants.quantize(c, x, imp)));
    }
}
