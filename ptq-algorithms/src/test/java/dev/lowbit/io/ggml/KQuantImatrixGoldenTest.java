package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lowbit.io.ggml.KQuantRefData.Codec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The importance-weighted ({@code quant_weights}) path against ggml itself. ggml-ref has no imatrix vectors, so the
 * reference is pinned as SHA-256 digests of the bytes ggml's {@code quantize_q2_K … quantize_iq4_xs} produced for the
 * 885 rows of {@code stories260K_matrices.f32}, n_per_row 256, with the importance vector {@link #importance()}
 * (chosen so that C and Java compute it to the same bits). Source: ggml-org/ggml commit d99724f2 (2026-08-21),
 * {@code src/ggml-quants.c} built with gcc -O2 -ffp-contract=off; the same build reproduces every
 * {@code m.T.q} of ggml-ref byte for byte without importance.
 */
class KQuantImatrixGoldenTest {
    private static final Map<String, String> GGML_SHA256 = Map.of(
            "q2_K", "11480c20edf5aed9d4cc7549b429e5e793c8b3fe9c3c38db6640765bd44a70d0",
            "q3_K", "aadd02d370319acd48e2229d526a0267c089898efe126e3d0b293b22584c12ff",
            "q4_K", "21568718085104c14e31c983e9c8e6e8a4fdb76b6e00032127aa7fcd520db555",
            "q5_K", "498f268906173158d7e8c3e6bc560c81138008e974ff1ef3164e705897cd2a40",
            "q6_K", "b7b5fa6d4f92feb70bca09737a549533f83b0533faaa58dc69962e9804665720",
            "iq4_nl", "45a17638b2698291e353316dc1f5d09baea65d670457fe576258430baa59e13b",
            "iq4_xs", "3c8fe90bcbfd92422cc16e7b5ec3349ff493d0a8499117096c31eeb7f91fbfff");

    static Stream<Codec> codecs() {
        return KQuantGgmlRefTest.codecs().filter(c -> GGML_SHA256.containsKey(c.name()));
    }

    /** imp[i] = (0.1 + ((37·i) mod 101)/25)², a spread of 0.01..17 over the 256 input channels. */
    static float[] importance() {
        float[] imp = new float[KQuantRefData.COLS];
        for (int i = 0; i < imp.length; i++) {
            float v = 0.1f + (float) ((i * 37) % 101) / 25.0f;
            imp[i] = v * v;
        }
        return imp;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("codecs")
    void matchesGgmlWithImportance(Codec c) throws Exception {
        MemorySegment q = KQuantRefData.quantizeAll(c, KQuantRefData.matrix(), importance());
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(q.toArray(ValueLayout.JAVA_BYTE)));
        assertEquals(GGML_SHA256.get(c.name()), sha, c.name() + ": importance-weighted bytes differ from ggml's");
    }
}
