package dev.lowbit.pipeline.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.data.CalibrationSet;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearHook;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.ptq.gptq.GptqConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code lowbit plan --sensitivity kl} on tiny-llama-code: each score is the KL divergence of the model with one Linear
 * replaced, recomputed here by a plain full forward of a fresh runner (no cached hidden states, no partial reruns).
 * Checked for the first and the last Linear scored: the last one also proves that every earlier substitution was
 * undone (otherwise its model would differ from the fresh one by all of them).
 */
class KlSensitivityTest {
    static final Path MODEL = SharedData.tinyLlama();

    @Test
    void klScoresEqualAFreshForwardWithOneLinearReplaced() {
        int[][] windows = CalibrationSet.first(MODEL, SharedData.data("calib_code.txt"), 32, 2);
        List<GgmlType> candidates = List.of(GgmlType.Q8_0, GgmlType.Q4_0);
        List<SensitivityPass.Scored<GgmlType>> scored = SensitivityPass.run(MODEL, windows, candidates, SensitivityPass.Method.RTN,
                new GptqConfig.Options(0.01, 128, true), windows, 2, msg -> {});
        assertEquals(42, scored.size());
        for (SensitivityPass.Scored<GgmlType> s : scored) {
            double q8 = s.error().get(GgmlType.Q8_0), q4 = s.error().get(GgmlType.Q4_0);
            assertTrue(q8 >= 0 && q4 > q8, s.name() + ": Q8_0 " + q8 + ", Q4_0 " + q4);
        }
        // Q8_0's search takes no importance weights, so its image is reproducible here without the Hessians
        check(scored.getFirst(), 0, Linear.Q, windows);
        check(scored.getLast(), 5, Linear.DOWN, windows);
    }

    private static void check(SensitivityPass.Scored<GgmlType> s, int layer, Linear linear, int[][] windows) {
        try (LlamaRunner fresh = LlamaRunner.open(MODEL, 2)) {
            assertTrue(s.name().startsWith("blk." + layer + "."), s.name());
            long[] shape = fresh.linearShape(linear);
            int rows = (int) shape[0], cols = (int) shape[1];
            double fp = 0;
            try (NDArray base = logp(fresh, windows)) {
                fresh.setLinearWeight(layer, linear, SensitivityPass.searched(GgmlType.Q8_0, fresh.linearWeight(layer, linear), rows, cols, null));
                try (NDArray q = logp(fresh, windows); NDArray d = base.exp().mul(base.sub(q)).sum()) {
                    fp = d.getFloat() / base.getShape().get(0);
                }
            }
            // the same f32 ops on the same inputs in both paths; 1e-4 relative covers summation-order differences
            assertEquals(fp, s.error().get(GgmlType.Q8_0), 1e-4 * fp + 1e-12, s.name());
        }
    }

    private static NDArray logp(LlamaRunner r, int[][] windows) {
        NDArray h = r.embed(windows);
        for (int l = 0; l < r.config().numLayers(); l++) {
            NDArray next = r.runLayer(l, h, LinearHook.NONE);
            h.close();
            h = next;
        }
        try (NDArray logits = r.finalLogits(h)) {
            h.close();
            return logits.logSoftmax(1);
        }
    }
}
