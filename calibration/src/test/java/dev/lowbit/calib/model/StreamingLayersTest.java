package dev.lowbit.calib.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.eval.Evaluator;
import dev.lowbit.io.SharedData;
import org.junit.jupiter.api.Test;

/**
 * A runner that keeps one layer at a time (what a model past 1 GiB of f32 layer weights gets) computes exactly what a
 * runner keeping every layer computes: the same decoded weights through the same operations, so the logits are
 * bit-identical, on repeated runs too (each run reloads every layer), and with a substituted Linear weight.
 */
class StreamingLayersTest {
    static final int[][] WINDOWS = {
        {1, 400, 17, 3000, 25, 900, 8000, 5, 61, 720, 33, 1024, 7, 77, 4096, 2},
        {1, 12, 512, 8191, 640, 3, 99, 1500, 42, 4242, 300, 6, 18, 2048, 100, 9},
    };

    @Test
    void streamingGivesTheSameLogitsAsResidentLayers() {
        float[] resident;
        float[] w;
        try (LlamaRunner r = LlamaRunner.open(SharedData.tinyLlama(), 2)) {
            assertTrue(r.residentLayers(), "tiny-llama-code (75 MB of f32 layers) stays resident");
            resident = logits(r);
            w = r.linearWeight(2, Linear.DOWN);
            for (int i = 0; i < w.length; i += 7) w[i] = 0; // a substitution, as GPTQ makes
            r.setLinearWeight(2, Linear.DOWN, w);
            resident = concat(resident, logits(r));
        }
        String old = System.getProperty("lowbit.runner.resident-bytes");
        System.setProperty("lowbit.runner.resident-bytes", "0");
        try (LlamaRunner r = LlamaRunner.open(SharedData.tinyLlama(), 2)) {
            assertFalse(r.residentLayers(), "a budget of 0 bytes streams");
            float[] first = logits(r);
            float[] again = logits(r); // every layer reloaded
            assertArrayEquals(first, again);
            r.setLinearWeight(2, Linear.DOWN, w);
            assertArrayEquals(resident, concat(first, logits(r)), "streaming vs resident, before and after the substitution");
        } finally {
            if (old == null) System.clearProperty("lowbit.runner.resident-bytes");
            else System.setProperty("lowbit.runner.resident-bytes", old);
        }
    }

    private static float[] logits(LlamaRunner r) {
        try (NDArray z = Evaluator.logits(r, WINDOWS)) {
            return z.toFloatArray();
        }
    }

    private static float[] concat(float[] a, float[] b) {
        float[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
