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
        check("LlamaForCausalLM", "llama", 64, 2, 4, 4, 96, 60, false, false, 7, false);
    }

    /** With the online R3 (q, k after RoPE) and R4 (down_proj's input; MLP 192 = 12·16, a Paley-12 Hadamard). */
    @Test
    void llamaGqaWithOnlineR3R4() throws Exception {
        check("LlamaForCausalLM", "llama", 128, 2, 8, 2, 192, 70, false, false, 17, true);
    }

    @Test
    void qwen2WithOnlineR3R4() throws Exception {
        check("Qwen2ForCausalLM", "qwen2", 96, 2, 4, 2, 160, 50, true, true, 19, true);
    }

    @Test
    void llamaGqaWithNonPowerOfTwoMlp() throws Exception {
        // 8 query heads over 2 kv heads (GQA 4:1), hidden 128, MLP 192 = 12·16 (R4-sized, untouched by R1/R2)
        check("LlamaForCausalLM", "llama", 128, 2, 8, 2, 192, 70, false, false, 11, false);
    }

    @Test
    void qwen2BiasesAndTiedEmbeddings() throws Exception {
        // hidden 96 = 12·8 (Paley-12 R1), 4 heads of 24 = 12·2 over 2 kv heads
        check("Qwen2ForCausalLM", "qwen2", 96, 2, 4, 2, 160, 50, true, true, 13, false);
    }

    private void check(String cls, String type, int d, int layers, int heads, int kv, int ff, int vocab,
                       boolean bias, boolean tied, long seed, boolean online) throws Exception {
        Random rnd = new Random(seed);
        randomModel(cls, type, d, layers, heads, kv, ff, vocab, bias, tied, rnd);

        int[][] windows = new int[2][16];
        for (int[] w : windows) for (int i = 0; i < w.length; i++) w[i] = rnd.nextInt(vocab);
        try (ModelSource source = ModelSource.open(dir);
             RotatedModelSource rotated = RotatedModelSource.of(source, 1234, online)) {
            assertEquals(tied, rotated.untied());
            assertEquals(online, dev.lowbit.io.arch.OnlineRotation.of(rotated.config(), "rotated").r4());
            if (online) {
                // the runtime's online ops are needed: the same weights without them compute something else
                float[] without = logits(new WithoutOnline(rotated), windows);
                float[] with = logits(rotated, windows);
                double change = 0;
                for (int i = 0; i < with.length; i++) change = Math.max(change, Math.abs(with[i] - without[i]));
                assertTrue(change > 1e-2, "online R4 changed nothing: " + change);
            }
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

    /**
     * Activation quantization of down_proj's input sees the input after the online R4 Hadamard (QuaRot's order: rotate,
     * then quantize, so the outliers are spread before rounding): with R4, what the {@link ActivationQuantizer} gets for
     * {@link LinearInput#DOWN} equals what it gets without R4 (same R1/R2 seed, so the same MLP input) times H_F, where
     * H_F is built here from its definition (Sylvester, F = 128: H[i][j] = (−1)^popcount(i & j) / √F), independent of
     * the kernels. And what the quantizer returns is what down_proj reads: a quantizer that zeroes the DOWN input
     * leaves the MLP contributing nothing, whatever R4 does.
     */
    @Test
    void downProjActivationsAreQuantizedAfterR4() throws Exception {
        int ff = 128;
        randomModel("LlamaForCausalLM", "llama", 64, 2, 4, 2, ff, 50, false, false, new Random(23));
        int[][] windows = {{3, 7, 1, 44, 9, 12, 30, 2}};
        try (ModelSource source = ModelSource.open(dir);
             RotatedModelSource plain = RotatedModelSource.of(source, 5, false);
             RotatedModelSource online = RotatedModelSource.of(source, 5, true)) {
            float[] a = downInput(plain, windows), b = downInput(online, windows);
            int rows = a.length / ff;
            double max = 0, scale = 0;
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < ff; j++) {
                    double want = 0;
                    for (int i = 0; i < ff; i++) want += a[r * ff + i] * (Integer.bitCount(i & j) % 2 == 0 ? 1 : -1);
                    want /= Math.sqrt(ff);
                    max = Math.max(max, Math.abs(b[r * ff + j] - want));
                    scale = Math.max(scale, Math.abs(want));
                }
            }
            // f32 activations through two differently rounded (rotated) weight sets: ~1e-6 relative; 1e-4 of the
            // largest entry is far below what a missing or misplaced R4 changes (O(1) relative)
            assertTrue(max <= 1e-4 * scale, "DOWN input with R4 vs without R4 · H_F: max |Δ| = " + max + " of " + scale);
            assertTrue(scale > 0);
            // the quantizer's output is what down_proj reads: zeroing it removes the MLP from the residual stream
            float[] zeroed = logits(online, windows, (layer, in, x) -> in == LinearInput.DOWN ? x.zerosLike() : x);
            float[] noMlp = logits(new WithoutMlp(online), windows, ActivationQuantizer.NONE);
            double diff = 0;
            for (int i = 0; i < zeroed.length; i++) diff = Math.max(diff, Math.abs(zeroed[i] - noMlp[i]));
            assertTrue(diff <= RANDOM_TOL, "zeroed DOWN input vs zero down_proj: max |Δlogit| = " + diff);
        }
    }

    /** What the activation quantizer receives as layer 0's down_proj input, row-major [tokens, F]. */
    private static float[] downInput(ModelSource model, int[][] windows) {
        float[][] seen = new float[1][];
        logits(model, windows, (layer, in, x) -> {
            if (layer == 0 && in == LinearInput.DOWN) seen[0] = x.toFloatArray();
            return x;
        });
        return seen[0];
    }

    private static float[] logits(ModelSource model, int[][] windows, ActivationQuantizer q) {
        try (LlamaRunner runner = LlamaRunner.open(model, 1)) {
            runner.setActivations(q);
            try (NDArray l = Evaluator.logits(runner, windows)) {
                return l.toFloatArray();
            }
        }
    }

    /** A model whose down_proj weights read as zero: its MLPs add nothing to the residual stream. */
    private record WithoutMlp(ModelSource m) implements ModelSource {
        @Override public Path path() { return m.path(); }
        @Override public dev.lowbit.io.hf.HfConfig config() { return m.config(); }
        @Override public java.util.Optional<Path> tokenizerFile() { return m.tokenizerFile(); }
        @Override public String tokenizerJson() { return m.tokenizerJson(); }
        @Override public java.util.List<String> tensorNames() { return m.tensorNames(); }
        @Override public boolean contains(String name) { return m.contains(name); }
        @Override public long[] shape(String name) { return m.shape(name); }
        @Override public void readRows(String name, long first, int count, float[] out, int offset) {
            m.readRows(name, first, count, out, offset);
            if (name.endsWith("mlp.down_proj.weight")) java.util.Arrays.fill(out, offset, offset + count * (int) m.shape(name)[1], 0f);
        }
        @Override public void close() { }
    }

    /** Writes a random checkpoint (bf16-representable f32 values, norms around 1) into {@link #dir}. */
    private void randomModel(String cls, String type, int d, int layers, int heads, int kv, int ff, int vocab,
                             boolean bias, boolean tied, Random rnd) throws Exception {
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
    }

    @Test
    void tinyLlamaCodeRotatedMatchesGoldenLogits() throws Exception {
        golden(false);
    }

    @Test
    void tinyLlamaCodeWithOnlineR3R4MatchesGoldenLogits() throws Exception {
        golden(true);
    }

    private void golden(boolean online) throws Exception {
        try (SafetensorsFile golden = SafetensorsFile.open(SharedData.data("tiny-llama-code.golden-logits.safetensors"));
             ModelSource source = ModelSource.open(SharedData.tinyLlama());
             RotatedModelSource rotated = RotatedModelSource.of(source, 0, online)) {
            var idsTensor = golden.tensor("input_ids");
            int[] ids = new int[(int) idsTensor.elementCount()];
            for (int i = 0; i < ids.length; i++) ids[i] = (int) idsTensor.getLong(i);
            float[] expected = golden.tensor("logits").toFloatArray();
            assertChanged(source, rotated, "model.layers.3.mlp.down_proj.weight");
            float[] got = logits(rotated, new int[][] {ids});
            double maxDiff = 0;
            for (int i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
            System.out.println("rotated tiny-llama-code" + (online ? " with online R3/R4" : "") + " golden logits: max |Δ| = " + maxDiff);
            assertTrue(maxDiff <= GOLDEN_TOL, "max |Δlogit| = " + maxDiff);
        }
    }

    /** A model's weights with its config's online-rotation record removed (what a runtime that ignores it would run). */
    private record WithoutOnline(ModelSource m) implements ModelSource {
        @Override public Path path() { return m.path(); }
        @Override public dev.lowbit.io.hf.HfConfig config() {
            var c = m.config();
            var raw = c.raw().deepCopy();
            ((com.fasterxml.jackson.databind.node.ObjectNode) raw).remove(dev.lowbit.io.arch.OnlineRotation.KEY);
            return new dev.lowbit.io.hf.HfConfig(c.architectures(), c.modelType(), c.hiddenSize(), c.intermediateSize(),
                    c.numHiddenLayers(), c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(), c.rmsNormEps(),
                    c.vocabSize(), c.maxPositionEmbeddings(), c.tieWordEmbeddings(), c.attentionBias(), c.ropeTheta(),
                    c.ropeScaling(), c.dtype(), c.bosTokenIds(), c.eosTokenIds(), raw);
        }
        @Override public java.util.Optional<Path> tokenizerFile() { return m.tokenizerFile(); }
        @Override public String tokenizerJson() { return m.tokenizerJson(); }
        @Override public java.util.List<String> tensorNames() { return m.tensorNames(); }
        @Override public boolean contains(String name) { return m.contains(name); }
        @Override public long[] shape(String name) { return m.shape(name); }
        @Override public void readRows(String name, long first, int count, float[] out, int offset) { m.readRows(name, first, count, out, offset); }
        @Override public void close() { }
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
