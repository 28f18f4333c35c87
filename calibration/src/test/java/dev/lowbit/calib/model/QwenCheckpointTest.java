package dev.lowbit.calib.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.eval.Evaluator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Small random Qwen2-style (q/k/v bias, tied embeddings, 4 heads over 2 kv heads) and Qwen3-style (q/k RMSNorm,
 * head_dim ≠ hidden/heads, one kv head, untied head, llama3 rope scaling) checkpoints run through the same DJL code
 * as tiny-llama-code, compared with {@link ScalarReference}.
 */
class QwenCheckpointTest {
    /**
     * DJL computes in f32, the reference in f64 on the same bf16 weights: logits of size ~1 carry f32 rounding of
     * ~1e-6 relative per op over two layers; 1e-4 absolute + 1e-4 relative is ~50× that and far below the O(0.1)
     * change of a missing bias, norm or wrong head mapping.
     */
    static final double ABS = 1e-4, REL = 1e-4;

    @TempDir
    Path dir;

    @Test
    void qwen2WithBiasAndTiedEmbeddings() throws Exception {
        String config = """
                {"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","hidden_size":64,"intermediate_size":96,
                 "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":50,
                 "rms_norm_eps":1e-6,"rope_theta":1000000.0,"tie_word_embeddings":true,"rope_scaling":null}""";
        double[] inv = new double[8];
        for (int i = 0; i < 8; i++) inv[i] = Math.pow(1e6, -2.0 * i / 16);
        check(config, 64, 2, 4, 2, 16, 96, 50, 1e-6, inv, true, false, true);
    }

    @Test
    void qwen3WithQkNormAndLlama3Scaling() throws Exception {
        String config = """
                {"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","hidden_size":64,"intermediate_size":80,
                 "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":1,"head_dim":32,"vocab_size":40,
                 "rms_norm_eps":1e-6,"tie_word_embeddings":false,
                 "rope_parameters":{"rope_type":"llama3","rope_theta":10000.0,"factor":8.0,"low_freq_factor":1.0,
                   "high_freq_factor":4.0,"original_max_position_embeddings":64}}""";
        double[] inv = new double[16];
        for (int i = 0; i < 16; i++) {
            double f = Math.pow(1e4, -2.0 * i / 32);
            double wavelen = 2 * Math.PI / f;
            if (wavelen > 64.0 / 1.0) inv[i] = f / 8;
            else if (wavelen < 64.0 / 4.0) inv[i] = f;
            else {
                double s = (64 / wavelen - 1) / (4 - 1);
                inv[i] = (1 - s) * f / 8 + s * f;
            }
        }
        check(config, 64, 2, 4, 1, 32, 80, 40, 1e-6, inv, false, true, false);
    }

    private void check(String config, int d, int layers, int heads, int kv, int hd, int ff, int vocab, double eps,
                       double[] inv, boolean bias, boolean qkNorm, boolean tied) throws Exception {
        Random rnd = new Random(42);
        TinySafetensors st = new TinySafetensors();
        Map<String, float[]> w = new HashMap<>();
        java.util.function.BiConsumer<String, long[]> put = (name, shape) -> {
            int n = (int) java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            boolean norm = name.contains("norm");
            float[] v = new float[n];
            double scale = norm ? 0.2 : name.contains("embed") ? 1.0 : 1.0 / Math.sqrt(shape[shape.length - 1]);
            for (int i = 0; i < n; i++) v[i] = TinySafetensors.bf16((float) ((norm ? 1 : 0) + scale * rnd.nextGaussian()));
            st.put(name, v, shape);
            w.put(name, v);
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
            if (qkNorm) {
                put.accept(p + "self_attn.q_norm.weight", new long[] {hd});
                put.accept(p + "self_attn.k_norm.weight", new long[] {hd});
            }
            put.accept(p + "self_attn.o_proj.weight", new long[] {d, heads * hd});
            put.accept(p + "mlp.gate_proj.weight", new long[] {ff, d});
            put.accept(p + "mlp.up_proj.weight", new long[] {ff, d});
            put.accept(p + "mlp.down_proj.weight", new long[] {d, ff});
        }
        put.accept("model.norm.weight", new long[] {d});
        if (!tied) put.accept("lm_head.weight", new long[] {vocab, d});
        st.write(dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("config.json"), config);

        int[][] windows = new int[2][12];
        for (int[] win : windows) for (int i = 0; i < win.length; i++) win[i] = rnd.nextInt(vocab);
        ScalarReference ref = new ScalarReference(d, layers, heads, kv, hd, ff, vocab, eps, inv, qkNorm, tied, w);
        try (LlamaRunner runner = LlamaRunner.open(dir, 1)) {
            assertEquals(tied, runner.config().tieWordEmbeddings());
            try (NDArray logits = Evaluator.logits(runner, windows)) {
                float[] got = logits.toFloatArray();
                double maxDiff = 0;
                for (int b = 0; b < windows.length; b++) {
                    double[][] expected = ref.forward(windows[b]);
                    for (int p = 0; p < windows[b].length; p++) {
                        for (int o = 0; o < vocab; o++) {
                            double e = expected[p][o];
                            double g = got[(b * windows[b].length + p) * vocab + o];
                            maxDiff = Math.max(maxDiff, Math.abs(g - e));
                            assertTrue(Math.abs(g - e) <= ABS + REL * Math.abs(e),
                                    "window " + b + " pos " + p + " logit " + o + ": " + g + " vs " + e);
                        }
                    }
                }
                assertTrue(maxDiff > 0 || got.length > 0);
            }
        }
    }
}
