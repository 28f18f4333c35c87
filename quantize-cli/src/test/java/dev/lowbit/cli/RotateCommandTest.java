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
        return model(d, heads, 40);
    }

    private Path model(int d, int heads, int vocab) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("model-" + d + "-" + vocab));
        int kv = heads / 2, hd = d / heads, ff = 2 * d, layers = 2;
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

    /**
     * {@code --rotate-online}: the checkpoint records R3/R4, lowbit's runtime applies them (same function), and every
     * writer whose runtimes cannot apply them refuses the model with one line, writing nothing.
     */
    @Test
    void onlineRotationsRunInOurRuntimeAndOtherWritersRefuseThem() throws Exception {
        Path src = model(64, 4);
        Path out = tmp.resolve("online");
        CliRun r = CliRun.run("quantize", src.toString(), "-o", out.toString(), "--rotate", "--rotate-online",
                "--method", "none", "-q");
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.readString(out.resolve("config.json")).contains("lowbit_online_rotation"));
        int[][] windows = {{1, 5, 7, 30, 2, 9, 11, 3}};
        try (ModelSource a = ModelSource.open(src); ModelSource b = ModelSource.open(out)) {
            float[] want = logits(a, windows), got = logits(b, windows);
            double max = 0;
            for (int i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
            assertTrue(max <= TOL, "max |Δlogit| = " + max);
        }
        String[][] writers = {
            {"quantize", out.toString(), "-o", tmp.resolve("w1").toString(), "--method", "rtn", "-q"},
            {"quantize", out.toString(), "-o", tmp.resolve("w2").toString(), "--method", "rtn", "--format", "compressed-tensors", "-q"},
            {"quantize", out.toString(), "-o", tmp.resolve("w3.gguf").toString(), "--format", "gguf", "--type", "Q8_0", "-q"},
            {"convert", out.toString(), "-o", tmp.resolve("w4.gguf").toString(), "--type", "f32"},
            {"quantize", src.toString(), "-o", tmp.resolve("w5").toString(), "--rotate", "--rotate-online", "--method", "rtn", "-q"},
            {"quantize", src.toString(), "-o", tmp.resolve("w6").toString(), "--rotate-online", "--method", "none", "-q"},
        };
        for (String[] w : writers) {
            CliRun x = CliRun.run(w);
            assertEquals(2, x.code(), String.join(" ", w) + ": " + x.err());
            assertEquals(1, x.err().strip().lines().count(), x.err());
            assertTrue(x.err().contains("online"), x.err());
            assertFalse(Files.exists(Path.of(w[3])), w[3]);
        }
    }

    /**
     * {@code --format dequantized}: quantized weights of a model with online rotations, for lowbit's runtime only.
     * (1) On a plain model its f32 values are exactly what lowbit decodes from the GPTQ v1 checkpoint of the same
     * recipe (same logits, bit for bit). (2) On the online-rotated model it is written (the packed writers refuse it),
     * keeps lowbit_online_rotation, hides its family from other tools (architectures, quant_method) while lowbit reads
     * it, and lowbit's runtime applies R3/R4 to it: at 8 bits its logits stay near the source's, far nearer than the
     * same weights run without the online ops. (3) quantize and convert refuse it as input, one line, nothing written.
     */
    @Test
    void dequantizedFormatCarriesOnlineRotationsForOurRuntimeOnly() throws Exception {
        Path src = model(64, 4);
        int[][] windows = {{1, 5, 7, 30, 2, 9, 11, 3}};
        // (1) the values of the GPTQ checkpoint of the same run
        Path gptq = tmp.resolve("gptq"), deqPlain = tmp.resolve("deq-plain");
        for (String[] w : new String[][] {{gptq.toString(), "gptq"}, {deqPlain.toString(), "dequantized"}}) {
            CliRun r = CliRun.run("quantize", src.toString(), "-o", w[0], "--method", "rtn", "--bits", "4", "--group-size", "32",
                    "--format", w[1], "-q");
            assertEquals(0, r.code(), r.err());
        }
        try (ModelSource a = ModelSource.open(gptq); ModelSource b = ModelSource.open(deqPlain)) {
            assertEquals("Qwen2ForCausalLM", b.architecture());
            for (String n : a.tensorNames()) {
                if (n.endsWith("proj.weight")) assertTrue(java.util.Arrays.equals(a.readAll(n), b.readAll(n)), n);
            }
            assertTrue(java.util.Arrays.equals(logits(a, windows), logits(b, windows)));
        }
        // (2) an online-rotated model
        Path online = tmp.resolve("online"), deq = tmp.resolve("deq");
        assertEquals(0, CliRun.run("quantize", src.toString(), "-o", online.toString(), "--rotate", "--rotate-online",
                "--method", "none", "-q").code());
        CliRun r = CliRun.run("quantize", online.toString(), "-o", deq.toString(), "--method", "rtn", "--bits", "8",
                "--group-size", "-1", "--format", "dequantized", "-q");
        assertEquals(0, r.code(), r.err());
        var cfg = new com.fasterxml.jackson.databind.ObjectMapper().readTree(deq.resolve("config.json").toFile());
        assertEquals("[\"LowbitRuntimeOnlyForCausalLM\"]", cfg.get("architectures").toString());
        assertEquals("lowbit-dequantized", cfg.path("quantization_config").path("quant_method").asText());
        assertEquals("[\"Qwen2ForCausalLM\"]", cfg.path("quantization_config").path("architectures").toString());
        assertTrue(cfg.has("lowbit_online_rotation"));
        // the same weights with the record removed: what a runtime that ignores it would compute
        Path ignored = Files.createDirectories(tmp.resolve("ignored"));
        try (var files = Files.list(deq)) {
            for (Path f : files.toList()) Files.copy(f, ignored.resolve(f.getFileName().toString()));
        }
        ((com.fasterxml.jackson.databind.node.ObjectNode) cfg).remove("lowbit_online_rotation");
        Files.writeString(ignored.resolve("config.json"), cfg.toString());
        try (ModelSource a = ModelSource.open(src); ModelSource b = ModelSource.open(deq); ModelSource c = ModelSource.open(ignored)) {
            float[] want = logits(a, windows), got = logits(b, windows), without = logits(c, windows);
            double err = 0, errWithout = 0;
            for (int i = 0; i < got.length; i++) {
                err = Math.max(err, Math.abs(got[i] - want[i]));
                errWithout = Math.max(errWithout, Math.abs(without[i] - want[i]));
            }
            // 8-bit per-channel rounding moves logits by a few 1e-2 here; dropping R3/R4 changes the function (O(1))
            assertTrue(err < 0.1 * errWithout, "8-bit logits error " + err + " vs without the online ops " + errWithout);
        }
        // the packed writers still refuse the online model
        CliRun g = CliRun.run("quantize", online.toString(), "-o", tmp.resolve("g").toString(), "--method", "rtn", "-q");
        assertEquals(2, g.code(), g.err());
        // (3) an evaluation target only
        String[][] again = {
            {"quantize", deqPlain.toString(), "-o", tmp.resolve("again").toString(), "--method", "rtn", "-q"},
            {"convert", deqPlain.toString(), "-o", tmp.resolve("again.gguf").toString(), "--type", "f32"},
        };
        for (String[] w : again) {
            CliRun x = CliRun.run(w);
            assertEquals(2, x.code(), String.join(" ", w) + ": " + x.err());
            assertEquals(1, x.err().strip().lines().count(), x.err());
            assertTrue(x.err().contains("lowbit-dequantized"), x.err());
            assertFalse(Files.exists(Path.of(w[3])), w[3]);
        }
    }

    /**
     * The recipe step: {@code --rotate --method rtn} in one run (rotate transform inside the pipeline, no copy) writes
     * exactly the bytes of quantizing the rotated checkpoint in a second run, untied lm_head included.
     */
    @Test
    void rotateStepInThePipelineEqualsQuantizingTheRotatedCheckpoint() throws Exception {
        Path src = model(64, 4);
        Path rotated = tmp.resolve("rot"), twoStep = tmp.resolve("two"), oneRun = tmp.resolve("one");
        assertEquals(0, CliRun.run("quantize", src.toString(), "-o", rotated.toString(), "--rotate", "--method", "none",
                "--seed", "4", "-q").code());
        CliRun a = CliRun.run("quantize", rotated.toString(), "-o", twoStep.toString(), "--method", "rtn", "--bits", "4",
                "--group-size", "32", "-q");
        assertEquals(0, a.code(), a.err());
        CliRun b = CliRun.run("quantize", src.toString(), "-o", oneRun.toString(), "--rotate", "--seed", "4",
                "--method", "rtn", "--bits", "4", "--group-size", "32", "-q");
        assertEquals(0, b.code(), b.err());
        assertTrue(Files.readString(oneRun.resolve("recipe.json")).contains("\"rotate\""));
        try (ModelSource x = ModelSource.open(twoStep); ModelSource y = ModelSource.open(oneRun)) {
            assertFalse(y.config().tieWordEmbeddings(), "the rotated lm_head differs from the rotated embedding: untied");
            assertEquals(x.tensorNames().stream().sorted().toList(), y.tensorNames().stream().sorted().toList());
            for (String n : x.tensorNames()) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(x.readAll(n), y.readAll(n), n);
            }
        }
    }

    /** The candidate search scores the unrotated model and each seed, and keeps the rotated seed of least loss. */
    @Test
    void candidateSearchKeepsTheSeedOfLeastBlockLoss() throws Exception {
        Path src = model(64, 4, 8192);
        Files.copy(dev.lowbit.io.SharedData.tinyLlama().resolve("tokenizer.json"), src.resolve("tokenizer.json"));
        Path out = tmp.resolve("searched");
        CliRun r = CliRun.run("quantize", src.toString(), "-o", out.toString(), "--rotate", "--method", "none",
                "--seed", "10", "--rotate-candidates", "3", "--calib", dev.lowbit.io.SharedData.data("calib_code.txt").toString(),
                "--calib-samples", "2", "--calib-seqlen", "64", "--bits", "3", "--group-size", "-1", "-q", "--json");
        assertEquals(0, r.code(), r.err());
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        var c = json.get("candidates");
        assertEquals(4, c.size(), r.out());
        assertTrue(c.get(0).get("seed").isNull(), "the unrotated model is scored first");
        long best = -1;
        double bestLoss = Double.POSITIVE_INFINITY;
        for (int i = 1; i < 4; i++) {
            assertEquals(9 + i, c.get(i).get("seed").asLong());
            double loss = c.get(i).get("block_loss").asDouble();
            assertTrue(loss > 0 && Double.isFinite(loss), r.out());
            if (loss < bestLoss) {
                bestLoss = loss;
                best = c.get(i).get("seed").asLong();
            }
        }
        assertEquals(best, json.get("rotate_seed").asLong(), r.out());
        assertTrue(Files.readString(out.resolve("recipe.json")).contains("\"candidates\" : 3"));
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
            {"--rotate", "--method", "none", "--rotate-candidates", "2"},   // scored on --calib: required
            {"--rotate", "--method", "rtn"},                        // not wired to the quantizers yet
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

    /** {@code evaluate --act-clip} without {@code --activations}, or outside (0, 1]: exit 2, one line. */
    @Test
    void activationClipOutsideItsRangeOrAloneIsRefused() throws Exception {
        Path src = model(64, 4);
        Path data = Files.writeString(tmp.resolve("data.txt"), "x");
        String[][] cases = {{"--act-clip", "0.9"}, {"--activations", "int4-token", "--act-clip", "1.5"},
                {"--activations", "int4-token", "--act-clip", "0"}};
        for (String[] c : cases) {
            List<String> argv = new ArrayList<>(List.of("evaluate", src.toString(), "--data", data.toString(), "-q"));
            argv.addAll(List.of(c));
            CliRun r = CliRun.run(argv.toArray(String[]::new));
            assertEquals(2, r.code(), String.join(" ", c) + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().contains("--act-clip"), r.err());
        }
    }

    private static float[] logits(ModelSource m, int[][] windows) {
        try (LlamaRunner runner = LlamaRunner.open(m, 1); NDArray l = Evaluator.logits(runner, windows)) {
            return l.toFloatArray();
        }
    }
}
