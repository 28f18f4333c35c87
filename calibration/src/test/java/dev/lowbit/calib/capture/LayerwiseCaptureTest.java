package dev.lowbit.calib.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.SharedData;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.observe.EngineHessians;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ModuleObservers;
import dev.lowbit.calib.observe.ObservingHook;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.ptq.observe.MaxAbsObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LayerwiseCaptureTest {
    private static final int[][] WINDOWS = {
        {10, 200, 3000, 45, 77, 1023, 5, 600, 8000, 12, 13, 14, 15, 16, 17, 18},
        {4000, 3, 2, 1, 999, 123, 456, 789, 1011, 1213, 1415, 1617, 1819, 2021, 2223, 2425},
    };

    /** Layer 0's q/k/v input is RMSNorm(embedding)·γ: recompute Σxxᵀ in Java from the mapped checkpoint. */
    @Test
    void firstLayerQkvHessianMatchesJavaRecomputation() {
        EngineHessians h = new EngineHessians();
        try (LlamaRunner runner = LlamaRunner.open(SharedData.tinyLlama(), 2);
             TensorSource st = ShardedSafetensors.open(SharedData.tinyLlama())) {
            int d = runner.config().hiddenSize();
            LayerwiseCapture.run(runner, WINDOWS, 1, false, new LayerwiseCapture.Step() {
                public List<LinearObserver> observers(int layer, Set<LinearInput> inputs) {
                    return layer == 0 ? List.of(h) : List.of();
                }

                public void afterStage(int layer, Set<LinearInput> inputs, LlamaRunner r) {}
            });
            float[] emb = st.tensor("model.embed_tokens.weight").toFloatArray();
            float[] gamma = st.tensor("model.layers.0.input_layernorm.weight").toFloatArray();
            double[] expected = new double[d * d];
            for (int[] w : WINDOWS) {
                for (int id : w) {
                    double ms = 0;
                    for (int i = 0; i < d; i++) ms += (double) emb[id * d + i] * emb[id * d + i];
                    double inv = 1 / Math.sqrt(ms / d + 1e-5);
                    double[] x = new double[d];
                    for (int i = 0; i < d; i++) x[i] = emb[id * d + i] * inv * gamma[i];
                    for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) expected[i * d + j] += x[i] * x[j];
                }
            }
            String key = ObservingHook.key(runner.config().architecture(), 0, Linear.K);
            assertEquals("model.layers.0.self_attn.q_proj", key);
            assertEquals(32, h.get(key).tokens());
            double[] got = h.get(key).sum();
            double scale = 0;
            for (double v : expected) scale = Math.max(scale, Math.abs(v));
            for (int i = 0; i < got.length; i++) {
                assertEquals(expected[i], got[i], 1e-4 * scale + 1e-5, "H[" + i / d + "," + i % d + "]");
            }
        }
    }

    /** In sequential mode a stage sees the weights substituted by earlier stages: zero v ⇒ zero o_proj input. */
    @Test
    void sequentialStagesSeeSubstitutedWeights() {
        List<String> stages = new ArrayList<>();
        ModuleObservers<MaxAbsObserver> max = new ModuleObservers<>(MaxAbsObserver::new);
        try (LlamaRunner runner = LlamaRunner.open(SharedData.tinyLlama(), 2)) {
            long[] vShape = runner.linearShape(Linear.V);
            LayerwiseCapture.run(runner, WINDOWS, 2, true, new LayerwiseCapture.Step() {
                public List<LinearObserver> observers(int layer, Set<LinearInput> inputs) {
                    return layer == 1 ? List.of(max) : List.of();
                }

                public void afterStage(int layer, Set<LinearInput> inputs, LlamaRunner r) {
                    stages.add(layer + ":" + inputs);
                    if (layer == 1 && inputs.contains(LinearInput.QKV)) {
                        r.setLinearWeight(1, Linear.V, new float[(int) (vShape[0] * vShape[1])]);
                    }
                }
            });
            assertEquals(runner.config().numLayers() * 4, stages.size());
            assertEquals("0:[QKV]", stages.getFirst());
            assertEquals("0:[O]", stages.get(1));
            float[] oInput = max.get("model.layers.1.self_attn.o_proj").maxAbs();
            for (float v : oInput) assertEquals(0f, v);
            float[] qkvInput = max.get("model.layers.1.self_attn.q_proj").maxAbs();
            float peak = 0;
            for (float v : qkvInput) peak = Math.max(peak, v);
            assertTrue(peak > 0.1f);
        }
    }
}
