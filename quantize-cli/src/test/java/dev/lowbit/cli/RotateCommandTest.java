package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.eval.Evaluator;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.pipeline.output.CliRun;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.safetensors.SafetensorsWriter;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorData;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorSpec;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lowbit quantize MODEL -o OUT --rotate --method none}: the written checkpoint is a plain one (it passes the
 * model checks every reader applies), untied, f32, computes the source's function, and records the seed; flags that
 * do not apply and sizes without a Hadamard matrix are exit 2 with one line and nothing written.
 */
class RotateCommandTest {
    /** f32 on both sides, one rotation's rounding on weights of a 2-layer model: ~1e-6 on logits of size ~1 (see RotationInvarianceTest). */
    static final double TOL = 1e-4;

    @TempDir
    Path tmp;

    /** A random Qwen2-style checkpoint (q/k/v biases, tied embeddings, GQA 4:2) with hidden {@code d}, f32. */
    private Path model(int d, int heads) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("model-" + d));
        int kv = heads / 2, hd = d / heads, ff = 2 * d, vocab = 40, layers = 2;
        Random rnd = new Random(d);
        List<TensorSpec> specs = new ArrayList<>();
        java.util.function.BiConsumer<String, long[]> put = (name, shape) -> {
            int n = (int) java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            float[] v = new float[n];
            boolean norm = name.contains("norm");
            for (int i = 0; i < n; i++) v[i] = (float) ((norm ? 1 : 0) + (norm ? 0.5 : 0.3) * rnd.nextGaussian());
            specs.add(new TensorSpec(name, DType.F32, Shape.of(shape), TensorData.of(MemorySegment.ofArray(v))));
        };
        put.accept("model.embed_tokens.weight", new long[] {vocab, d});
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            put.accept(p + "input_layernorm.weight", new long[] {d});
            put.accept(p + "post_attention_layernorm.weight", new long[] {d});
            put.accept(p + "self_attn.q_proj.weight", new long[] {heads * hd, d});
            put.accept(p + "self_attn.q_proj.bias", new long[] {heads * hd});
            put.accept(p + "self_attn.k_proj.weight", new long[] {kv * hd, d});
            put.accept(p + "self_attn.k_proj.bias", new long[] {kv * hd});
            put.accept(p + "self_attn.v_proj.weight", new long[] {kv * hd, d});
            put.accept(p + "self_attn.v_proj.bias", new long[] {kv * hd});
            put.accept(p + "self_attn.o_proj.weight", new long[] {d, heads * hd});
            put.accept(p + "mlp.gate_proj.weight", new long[] {ff, d});
            put.accept(p + "mlp.up_proj.weight", new long[] {ff, d});
            put.accept(p + "mlp.down_proj.weight", new long[] {d, ff});
        }
        put.accept("model.norm.weight", new long[] {d});
        SafetensorsWriter.write(dir.resolve("model.safetensors"), specs, SafetensorsWriter.Options.defaults());
        Files.writeString(dir.resolve("config.json"), """
                {"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","hidden_size":%d,"intermediate_size":%d,
                 "num_hidden_layers":%d,"num_attention_heads":%d,"num_key_value_heads":%d,"vocab_size":%d,
                 "rms_norm_eps":1e-6,"rope_theta":10000.0,"tie_word_embeddings":true,"torch_dtype":"float32"}"""
                .formatted(d, ff, layers, heads, kv, vocab));
        return dir;
    }

    @Test
    void rotatedCheckpointIsPlainUntiedAndComputesTheSameFunction() throws Exception {
        Path src = model(64, 4);
        Path out = tmp.resolve("rotated");
        CliRun r = CliRun.run("quantize", src.toString(), "-o", out.toString(), "--rotate", "--method", "none",
                "--seed", "3", "-q", "--json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"untied\":true"), r.out());
        String manifest = Files.readString(out.resolve("lowbit-manifest.json"));
        assertTrue(manifest.contains("\"rotate_seed\" : 3"), manifest);
        int[][] windows = new int[2][12];
        Random rnd = new Random(5);
        for (int[] w : windows) for (int i = 0; i < w.length; i++) w[i] = rnd.nextInt(40);
        try (ModelSource a = ModelSource.open(src); ModelSource b = ModelSource.open(out)) { // open = the full model check
            assertFalse(b.config().tieWordEmbeddings());
            assertTrue(b.contains("lm_head.weight"));
            float[] want = logits(a, windows), got = logits(b, windows);
            double max = 0;
            for (int i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
            assertTrue(max <= TOL, "max |Δlogit| = " + max);
            float[] e0 = a.readAll("model.embed_tokens.weight"), e1 = b.readAll("model.embed_tokens.weight");
            assertFalse(java.util.Arrays.equals(e0, e1), "embedding not rotated");
        }
    }

    @Test
    void sizeWithoutHadamardIsExit2NamingTensorAndSize() throws Exception {
        // hidden 172 = 43·4: neither a power of two nor k·2^m with a Paley k ≤ 256
        Path src = model(172, 2);
        Path out = tmp.resolve("o");
        CliRun r = CliRun.run("quantize", src.toString(), "-o", out.toString(), "--rotate", "--method", "none", "-q");
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("hidden_size 172") && r.err().contains("model.embed_tokens.weight"), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void flagsThatDoNotApplyAreRefused() throws Exception {
        Path src = model(64, 4);
        String[][] cases = {
            {"--method", "none"},                                   // nothing to do without a transform
            {"--rotate", "--method", "none", "--bits", "3"},        // no quantizer
            {"--rotate", "--method", "none", "--format", "gguf"},
        };
        for (String[] c : cases) {
            Path out = tmp.resolve("x");
            List<String> argv = new ArrayList<>(List.of("quantize", src.toString(), "-o", out.toString(), "-q"));
            argv.addAll(List.of(c));
            CliRun r = CliRun.run(argv.toArray(String[]::new));
            assertEquals(2, r.code(), String.join(" ", c) + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertFalse(Files.exists(out));
        }
    }

    private static float[] logits(ModelSource m, int[][] windows) {
        try (LlamaRunner runner = LlamaRunner.open(m, 1); NDArray l = Evaluator.logits(runner, windows)) {
            return l.toFloatArray();
        }
    }
}
