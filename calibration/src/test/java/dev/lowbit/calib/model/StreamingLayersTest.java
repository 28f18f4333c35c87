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

    /**
     * Substitutions live in native memory of their own that the layer's array runs on: replacing one, reading it back,
     * clearing it and forgetting the layer must each leave the runner on the right weights (a freed or stale
     * substitution would give other logits, or crash), whether the layer stays loaded or is streamed in again.
     */
    @Test
    void substitutionsCanBeReplacedReadBackClearedAndForgotten() {
        String old = System.getProperty("lowbit.runner.resident-bytes");
        for (String budget : new String[] {null, "0"}) {
            if (budget == null) System.clearProperty("lowbit.runner.resident-bytes");
            else System.setProperty("lowbit.runner.resident-bytes", budget);
            try (LlamaRunner r = LlamaRunner.open(SharedData.tinyLlama(), 2)) {
                float[] original = logits(r);
                float[] w = r.linearWeight(1, Linear.UP);
                float[] zeroed = w.clone();
                for (int i = 0; i < zeroed.length; i += 3) zeroed[i] = 0;
                r.setLinearWeight(1, Linear.UP, zeroed);
                float[] once = logits(r);
                assertFalse(java.util.Arrays.equals(original, once), "the substitution changes the logits");
                r.setLinearWeight(1, Linear.UP, w.clone()); // replaced by the original values: the old memory goes
                assertArrayEquals(original, logits(r), "budget " + budget + ": replaced by the original weight");
                r.setLinearWeight(1, Linear.UP, zeroed);
                assertArrayEquals(zeroed, r.linearWeight(1, Linear.UP), "read back");
                assertArrayEquals(once, logits(r), "budget " + budget + ": substituted again");
                r.clearLinearWeight(1, Linear.UP);
                assertArrayEquals(original, logits(r), "budget " + budget + ": cleared");
                r.setLinearWeight(1, Linear.UP, zeroed);
                r.forgetLayer(1);
                assertArrayEquals(w, r.linearWeight(1, Linear.UP), "forgotten: the model's own weight");
                assertArrayEquals(original, logits(r), "budget " + budget + ": forgotten");
            } finally {
                if (old == null) System.clearProperty("lowbit.runner.resident-bytes");
                else System.setProperty("lowbit.runner.resident-bytes", old);
            }
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
