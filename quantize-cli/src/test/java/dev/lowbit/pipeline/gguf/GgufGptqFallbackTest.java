package dev.lowbit.pipeline.gguf;

import dev.lowbit.ptq.observe.PackedSymmetric;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.ptq.search.GgmlSearches;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A Hessian that is not positive definite after damping: exit 2 naming the tensor, or, with
 * {@code --allow-rtn-fallback}, that Linear alone rounded by its type's importance-weighted search.
 */
class GgufGptqFallbackTest {
    static final int ROWS = 8, COLS = 256;

    /** H = v·vᵀ − 4·I: diag(H) positive, far from positive definite (eigenvalue −4 even after 1% damping). */
    static double[] indefinite() {
        SplittableRandom rnd = new SplittableRandom(3);
        double[] v = new double[COLS];
        for (int i = 0; i < COLS; i++) v[i] = 3 + rnd.nextDouble();
        double[] h = new double[COLS * COLS];
        for (int i = 0; i < COLS; i++) {
            for (int j = 0; j < COLS; j++) h[i * COLS + j] = v[i] * v[j] - (i == j ? 4 : 0);
        }
        return h;
    }

    static float[] weights() {
        SplittableRandom rnd = new SplittableRandom(5);
        float[] w = new float[ROWS * COLS];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextGaussian() * 0.05);
        return w;
    }

    @Test
    void notPositiveDefiniteStopsNamingTheTensor() {
        var options = new GgufGptq.GptqOptions(0.01, 128, false, true, false);
        BadInputException e = assertThrows(BadInputException.class, () -> GgufGptq.quantize("blk.3.attn_v.weight",
                GgmlType.Q4_K, weights(), ROWS, COLS, PackedSymmetric.ofUpper(indefinite(), COLS), options, new ArrayList<>()));
        assertEquals("blk.3.attn_v.weight", e.source());
        assertTrue(e.getMessage().contains("not positive definite"), e.getMessage());
        assertTrue(e.getMessage().contains("--allow-rtn-fallback"), e.getMessage());
    }

    @Test
    void fallbackIsTheWeightedSearchForThatLinearOnly() {
        var options = new GgufGptq.GptqOptions(0.01, 128, false, true, true);
        List<String> fallbacks = new ArrayList<>();
        double[] h = indefinite();
        float[] w = weights();
        GgufGptq.Quantized q = GgufGptq.quantize("blk.3.attn_v.weight", GgmlType.Q4_K, w, ROWS, COLS, PackedSymmetric.ofUpper(h, COLS), options, fallbacks);
        assertEquals(List.of("blk.3.attn_v.weight"), fallbacks);
        BlockCodec codec = BlockCodecs.forType(GgmlType.Q4_K);
        float[] importance = new float[COLS];
        for (int c = 0; c < COLS; c++) importance[c] = (float) h[c * COLS + c];
        byte[] expect = new byte[(int) (ROWS * codec.rowBytes(COLS))];
        for (int r = 0; r < ROWS; r++) {
            GgmlSearches.forType(GgmlType.Q4_K).quantizeRow(w, r * COLS, COLS, importance, MemorySegment.ofArray(expect), r * codec.rowBytes(COLS));
        }
        assertArrayEquals(expect, q.packed());
    }
}
