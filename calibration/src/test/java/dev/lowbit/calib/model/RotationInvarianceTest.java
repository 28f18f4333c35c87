package dev.lowbit.calib.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.eval.Evaluator;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.safetensors.SafetensorsFile;
import dev.lowbit.ptq.rotate.RotatedModelSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * R1 + R2 with folded norms computes the same function: the rotated model (a {@link RotatedModelSource} over the
 * checkpoint) run through the same DJL decoder gives the original logits, on small random Llama (MHA), GQA Llama and
 * Qwen2 (q/k/v biases, tied embeddings → untied) checkpoints and on tiny-llama-code against the golden logits. Each
 * case also checks that the weights really changed (a view that forgot to rotate would pass the first check).
 */
class RotationInvarianceTest {
    /**
     * Random models, both runs in f32 on the same weights: the rotation adds one f32 rounding per transform stage
     * (~log₂n·2⁻²⁴ relative) to each weight and reorders every dot product; over two layers that is ~1e-6 on logits of
     * size ~1. 1e-4 absolute is ~100× that and far below the O(0.1) change of a missed norm, bias or head mapping.
     */
    static final double RANDOM_TOL = 1e-4;
    /** The acceptance bar of issue 11: golden logits of the rotated tiny-llama-code within 1e-3 absolute. */
    static final double GOLDEN_TOL = 1e-3;

    @TempDir
    Path dir;

    @Test
    void llamaMha() throws Exception {
        check("LlamaForCausalLM", "llama", 64, 2, 4, 4, 96, 60, false, false, 7);
    }

    @Test
    void llamaGqaWithNonPowerOfTwoMlp() throws Exception {
        // 8 query heads over 2 kv heads (GQA 4:1), hidden 128, MLP 192 = 12·16 (R4-sized, untouched by R1/R2)
        check("LlamaForCausalLM", "llama", 128, 2, 8, 2, 192, 70, false, false, 11);
    }

    @Test
    void qwen2BiasesAndTiedEmbeddings() throws Exception {
        // hidden 96 = 12·8 (Paley-12 R1), 4 heads of 24 = 12·2 over 2 kv heads
        check("Qwen2ForCausalLM", "qwen2", 96, 2, 4, 2, 160, 50, true, true, 13);
    }

    private void check(String cls, String type, int d, int layers, int heads, int kv, int ff, int vocab,
                       boolean bias, boolean tied, long seed) throws Exception {
        Random rnd = new Random(seed);
        int hd = d / heads;
        TinySafetensors st = new TinySafetensors();
        java.util.function.BiConsumer<String, long[]> put = (name, shape) -> {
            int n = (int) java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            boolean norm = name.contains("norm");
            float[] v = new float[n];
            // norms far from 1 so that a fold that is missing or applied twice shows
            double scale = norm ? 0.5 : name.contains("embed") ? 1.0 : 1.0 / Math.sqrt(shape[shape.length - 1]);
            for (int i = 0; i < n; i++) v[i] = TinySafetensors.bf16((float) ((norm ? 1 : 0) + scale * rnd.nextGaussian()));
            st.put(name, v, shape);
        };
        put.accept("model.embed_tokens.weight", new long[] {vocab, d});
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            put.accept(p + "input_layernorm.weight", new long[] {d});
            put.accept(p + "post_attention_layernorm.weight", new long[] {d});
            put.accept(p + "self_attn.q_proj.weight", new long[] {heads * hd, d});
            put.accept(p + "self_attn.k_proj.weight", new long[] {kv * hd, d});
            put.accept(p + "self_attn.v_proj.weight", new long[] {kv * hd, d});
            if (bias) {
                put.accept(p + "self_attn.q_proj.bias", new long[] {heads * hd});
                put.accept(p + "self_attn.k_proj.bias", new long[] {kv * hd});
                put.accept(p + "self_attn.v_proj.bias", new long[] {kv * hd});
            }
            put.accept(p + "self_attn.o_proj.weight", new long[] {d, heads * hd});
            put.accept(p + "mlp.gate_proj.weight", new long[] {ff, d});
            put.accept(p + "mlp.up_proj.weight", new long[] {ff, d});
            put.accept(p + "mlp.down_proj.weight", new long[] {d, ff});
        }
        put.accept("model.norm.weight", new long[] {d});
        if (!tied) put.accept("lm_head.weight", new long[] {vocab, d});
        st.write(dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("config.json"), """
                {"architectures":["%s"],"model_type":"%s","hidden_size":%d,"intermediate_size":%d,
                 "num_hidden_layers":%d,"num_attention_heads":%d,"num_key_value_heads":%d,"vocab_size":%d,
                 "rms_norm_eps":1e-6,"rope_theta":10000.0,"tie_word_embeddings":%s}""".formatted(
                cls, type, d, ff, layers, heads, kv, vocab, tied));

        int[][] windows = new int[2][16];
        for (int[] w : windows) for (int i = 0; i < w.length; i++) w[i] = rnd.nextInt(vocab);
        try (ModelSource source = ModelSource.open(dir);
             RotatedModelSource rotated = RotatedModelSource.of(source, 1234)) {
            assertEquals(tied, rotated.untied());
            assertFalse(rotated.config().tieWordEmbeddings());
            assertTrue(rotated.contains("lm_head.weight"));
            assertChanged(source, rotated, "model.embed_tokens.weight");
            assertChanged(source, rotated, "model.layers.1.self_attn.v_proj.weight");
            assertChanged(source, rotated, "model.layers.1.self_attn.o_proj.weight");
            if (bias) assertChanged(source, rotated, "model.layers.0.self_attn.v_proj.bias");
            float[] expected = logits(source, windows);
            float[] got = logits(rotated, windows);
            assertEquals(expected.length, got.length);
            double maxDiff = 0;
            for (int i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
            assertTrue(maxDiff <= RANDOM_TOL, cls + ": max |Δlogit| = " + maxDiff);
        }
    }

    @Test
    void tinyLlamaCodeRotatedMatchesGoldenLogits() throws Exception {
        try (SafetensorsFile golden = SafetensorsFile.open(SharedData.data("tiny-llama-code.golden-logits.safetensors"));
             ModelSource source = ModelSource.open(SharedData.tinyLlama());
             RotatedModelSource rotated = RotatedModelSource.of(source, 0)) {
            var idsTensor = golden.tensor("input_ids");
            int[] ids = new int[(int) idsTensor.elementCount()];
            for (int i = 0; i < ids.length; i++) ids[i] = (int) idsTensor.getLong(i);
            float[] expected = golden.tensor("logits").toFloatArray();
            assertChanged(source, rotated, "model.layers.3.mlp.down_proj.weight");
            float[] got = logits(rotated, new int[][] {ids});
            double maxDiff = 0;
            for (int i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
            System.out.println("rotated tiny-llama-code golden logits: max |Δ| = " + maxDiff);
            assertTrue(maxDiff <= GOLDEN_TOL, "max |Δlogit| = " + maxDiff);
        }
    }

    private static float[] logits(ModelSource model, int[][] windows) {
        try (LlamaRunner runner = LlamaRunner.open(model, 1); NDArray l = Evaluator.logits(runner, windows)) {
            return l.toFloatArray();
        }
    }

    /** The rotated tensor differs from the source by far more than rounding. */
    private static void assertChanged(ModelSource source, ModelSource rotated, String name) {
        float[] a = source.readAll(name), b = rotated.readAll(name);
        double diff = 0, norm = 0;
        for (int i = 0; i < a.length; i++) {
            diff += Math.abs(a[i] - b[i]);
            norm += Math.abs(a[i]);
        }
        assertTrue(diff > 0.1 * norm, name + " was not rotated");
    }
}
