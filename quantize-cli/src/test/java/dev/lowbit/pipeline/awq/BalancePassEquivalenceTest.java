package dev.lowbit.pipeline.awq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.eval.Evaluator;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.model.OverlayModelSource;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.safetensors.SafetensorsWriter;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.ptq.rtn.Rtn;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With quantization switched off, the AWQ- and SmoothQuant-transformed fp model computes what the original did: the
 * transforms only move scale between tensors. Small random models: grouped-query attention with q/k/v biases
 * (Qwen2-style; v→o cannot be folded and is skipped with a notice) and multi-head attention (v→o folded), every
 * mapping of the architecture table.
 */
class BalancePassEquivalenceTest {
    /**
     * Logits of size ~1–10 computed in f32 through two layers: the fold changes the rounding of every product
     * (scales up to ~1e2 apart), ~1e-6 relative per op; 1e-4 relative (+1e-4 absolute near zero) is the bar
     * and far below what a wrong fold changes (O(1): a scale applied on one side only).
     */
    static final double REL = 1e-4, ABS = 1e-4;

    @TempDir
    Path dir;

    @Test
    void gqaWithBiases() throws Exception {
        Path model = write(dir.resolve("gqa"), 4, 2, true, 11);
        check(model, true);
    }

    @Test
    void multiHeadFoldsVIntoO() throws Exception {
        Path model = write(dir.resolve("mha"), 4, 4, false, 12);
        check(model, false);
    }

    private void check(Path model, boolean gqa) {
        Random rnd = new Random(5);
        int[][] windows = new int[4][24];
        for (int[] w : windows) for (int i = 0; i < w.length; i++) w[i] = rnd.nextInt(VOCAB);
        float[] original = logits(model, Map.of(), windows);
        QuantScheme w3 = new QuantScheme(3, 32, false);
        List<BalancePass.Options> runs = List.of(
                // AWQ scale search only (no clip: the clip changes weights on purpose), searched with a real 3-bit grid
                new BalancePass.Options(BalancePass.Method.AWQ, w3, 20, true, false, Double.NaN, List.of(BalancePass.Mapping.values()), 2,
                        (w, r, c) -> Rtn.rtn("s", w, r, c, w3).dequantize()),
                // SmoothQuant at a fixed α moves scale on every mapping, down_proj's input and v→o included
                BalancePass.Options.smooth(0.5, List.of(BalancePass.Mapping.values())));
        for (BalancePass.Options o : runs) {
            BalancePass.Result r;
            try (LlamaRunner runner = LlamaRunner.open(model, 1)) {
                r = BalancePass.run(runner, windows, 2, o, msg -> {});
            }
            assertEquals(gqa ? 1 : 0, r.report().notices().size(), r.report().notices().toString());
            if (gqa) assertTrue(r.report().notices().getFirst().contains("v_proj"), r.report().notices().getFirst());
            int mappings = (gqa ? 3 : 4) * LAYERS;
            assertEquals(mappings, r.report().alphas().size());
            if (o.method() == BalancePass.Method.AWQ) {
                assertTrue(r.report().alphas().values().stream().anyMatch(a -> !Double.isNaN(a)), "AWQ moved no scale: " + r.report().alphas());
            }
            // the transform really changed the tensors it folds into (else this test could not fail)
            assertFalse(java.util.Arrays.equals(r.tensors().get("model.layers.0.input_layernorm.weight"), readAll(model, "model.layers.0.input_layernorm.weight")));
            float[] transformed = logits(model, r.tensors(), windows);
            double worst = 0;
            for (int i = 0; i < original.length; i++) {
                double err = Math.abs(transformed[i] - original[i]) / (ABS + REL * Math.abs(original[i]));
                worst = Math.max(worst, err);
            }
            assertTrue(worst <= 1, o.method() + ": logits differ by " + worst + "× the tolerance");
            double nllA = nll(original, windows), nllB = nll(transformed, windows);
            assertEquals(Math.exp(nllA), Math.exp(nllB), REL * Math.exp(nllA), "perplexity");
        }
    }

    static final int D = 64, FF = 96, LAYERS = 2, VOCAB = 50, HD = 16;

    private static float[] logits(Path model, Map<String, float[]> replaced, int[][] windows) {
        try (ModelSource src = new OverlayModelSource(ModelSource.open(model), replaced);
             LlamaRunner runner = LlamaRunner.open(src, 1);
             NDArray l = Evaluator.logits(runner, windows)) {
            return l.toFloatArray();
        }
    }

    private static float[] readAll(Path model, String name) {
        try (ModelSource src = ModelSource.open(model)) {
            return src.readAll(name);
        }
    }

    /** Mean next-token NLL of the windows under the logits (perplexity = exp of it). */
    private static double nll(float[] logits, int[][] windows) {
        double sum = 0;
        int n = 0, t = windows[0].length;
        for (int b = 0; b < windows.length; b++) {
            for (int p = 0; p < t - 1; p++) {
                int base = (b * t + p) * VOCAB;
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < VOCAB; v++) max = Math.max(max, logits[base + v]);
                double z = 0;
                for (int v = 0; v < VOCAB; v++) z += Math.exp(logits[base + v] - max);
                sum += max + Math.log(z) - logits[base + windows[b][p + 1]];
                n++;
            }
        }
        return sum / n;
    }

    /** A random Llama/Qwen2 checkpoint in f32, with a few activation-outlier channels made by large norm weights. */
    private static Path write(Path dir, int heads, int kv, boolean bias, long seed) throws Exception {
        Files.createDirectories(dir);
        Random rnd = new Random(seed);
        List<SafetensorsWriter.TensorSpec> specs = new ArrayList<>();
        java.util.function.BiConsumer<String, long[]> put = (name, shape) -> {
            int n = 1;
            for (long s : shape) n *= (int) s;
            float[] v = new float[n];
            boolean norm = name.contains("norm");
            double scale = norm ? 0.2 : name.contains("embed") ? 1.0 : 1.0 / Math.sqrt(shape[shape.length - 1]);
            for (int i = 0; i < n; i++) v[i] = (float) ((norm ? 1 : 0) + scale * rnd.nextGaussian());
            if (norm) for (int c = 3; c < n; c += 17) v[c] *= 8; // outlier channels: scales worth moving
            specs.add(SafetensorsWriter.TensorSpec.of(Tensor.ofFloats(name, Shape.of(shape), v)));
        };
        put.accept("model.embed_tokens.weight", new long[] {VOCAB, D});
        for (int l = 0; l < LAYERS; l++) {
            String p = "model.layers." + l + ".";
            put.accept(p + "input_layernorm.weight", new long[] {D});
            put.accept(p + "post_attention_layernorm.weight", new long[] {D});
            put.accept(p + "self_attn.q_proj.weight", new long[] {heads * HD, D});
            put.accept(p + "self_attn.k_proj.weight", new long[] {kv * HD, D});
            put.accept(p + "self_attn.v_proj.weight", new long[] {kv * HD, D});
            if (bias) {
                put.accept(p + "self_attn.q_proj.bias", new long[] {heads * HD});
                put.accept(p + "self_attn.k_proj.bias", new long[] {kv * HD});
                put.accept(p + "self_attn.v_proj.bias", new long[] {kv * HD});
            }
            put.accept(p + "self_attn.o_proj.weight", new long[] {D, heads * HD});
            put.accept(p + "mlp.gate_proj.weight", new long[] {FF, D});
            put.accept(p + "mlp.up_proj.weight", new long[] {FF, D});
            put.accept(p + "mlp.down_proj.weight", new long[] {D, FF});
        }
        put.accept("model.norm.weight", new long[] {D});
        put.accept("lm_head.weight", new long[] {VOCAB, D});
        SafetensorsWriter.write(dir.resolve("model.safetensors"), specs, SafetensorsWriter.Options.defaults());
        String arch = bias ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
        String type = bias ? "qwen2" : "llama";
        Files.writeString(dir.resolve("config.json"), """
                {"architectures":["%s"],"model_type":"%s","hidden_size":%d,"intermediate_size":%d,
                 "num_hidden_layers":%d,"num_attention_heads":%d,"num_key_value_heads":%d,"vocab_size":%d,
                 "rms_norm_eps":1e-6,"rope_theta":10000.0,"tie_word_embeddings":false,"max_position_embeddings":128}"""
                .formatted(arch, type, D, FF, LAYERS, heads, kv, VOCAB));
        return dir;
    }
}
