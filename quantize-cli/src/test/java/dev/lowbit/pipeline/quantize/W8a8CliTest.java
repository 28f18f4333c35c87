package dev.lowbit.pipeline.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.calib.data.CalibrationSet;
import dev.lowbit.calib.eval.ActivationRequest;
import dev.lowbit.calib.eval.EvalRequest;
import dev.lowbit.calib.eval.Evaluator;
import dev.lowbit.calib.eval.Protocol;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.cli.Main;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.hf.DequantizingSource;
import dev.lowbit.io.hf.IntDequantizingSource;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.quant.ActivationScheme;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lowbit quantize --scheme w8a8} on tiny-llama-code: the compressed-tensors {@code int-quantized} checkpoint
 * as llm-compressor's W8A8 preset writes it and vLLM's {@code CompressedTensorsW8A8Int8} loads it — checked against
 * the format's definition written here (int8 codes round(w / s) clamped to [−128, 127] with s = max|w_row| / 127.5,
 * compressed-tensors' symmetric {@code calculate_qparams}), read back by our reader to exactly those values, the
 * declared activations applied by {@code evaluate}, and static {@code input_scale}s equal to max |x| / 127.5 of the
 * inputs measured independently on the same calibration windows.
 */
class W8a8CliTest {
    static final Path MODEL = SharedData.tinyLlama();
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void dynamicW8a8MatchesTheFormatDefinitionAndEvaluatesWithItsDeclaredActivations() throws Exception {
        Path out = tmp.resolve("w8a8");
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", out.toString(), "--method", "rtn", "--scheme", "w8a8", "-q"));
        JsonNode qc = JSON.readTree(Files.readString(out.resolve("config.json"))).path("quantization_config");
        assertEquals("int-quantized", qc.path("format").asText());
        JsonNode g = qc.path("config_groups").path("group_0");
        assertEquals("[\"Linear\"]", g.path("targets").toString());
        JsonNode w = g.path("weights"), a = g.path("input_activations");
        assertEquals(8, w.path("num_bits").asInt());
        assertEquals("int", w.path("type").asText());
        assertTrue(w.path("symmetric").asBoolean());
        assertEquals("channel", w.path("strategy").asText());
        assertEquals(8, a.path("num_bits").asInt());
        assertEquals("int", a.path("type").asText());
        assertTrue(a.path("symmetric").asBoolean());
        assertEquals("token", a.path("strategy").asText());
        assertTrue(a.path("dynamic").asBoolean());

        String module = "model.layers.2.mlp.down_proj";
        try (ModelSource src = ModelSource.open(MODEL); TensorSource raw = ShardedSafetensors.open(out);
             TensorSource read = DequantizingSource.openDirectory(out)) {
            assertTrue(read instanceof IntDequantizingSource);
            Tensor q = raw.tensor(module + ".weight"), s = raw.tensor(module + ".weight_scale");
            assertEquals(DType.I8, q.dtype());
            assertEquals(DType.F32, s.dtype());
            assertEquals(List.of(512L, 1L), List.of(s.shape().dim(0), s.shape().dim(1)));
            assertFalse(raw.contains(module + ".weight_zero_point"), "symmetric: compressed-tensors stores no zero point");
            assertFalse(raw.contains(module + ".input_scale"), "dynamic activations have no stored scale");
            float[] fp = src.readAll(module + ".weight");
            float[] back = read.tensor(module + ".weight").toFloatArray();
            int n = 512, k = 1536;
            for (int r = 0; r < n; r++) {
                float max = 0;
                for (int c = 0; c < k; c++) max = Math.max(max, Math.abs(fp[r * k + c]));
                float scale = s.getFloat(r);
                // the definition max / 127.5; ours evaluates (max − (−max)) / 255 in f32: within one ulp
                assertEquals(max / 127.5, scale, Math.ulp(scale), "row " + r + " scale");
                for (int c = 0; c < k; c++) {
                    int code = (int) Math.max(-128, Math.min(127, Math.rint(fp[r * k + c] / scale)));
                    assertEquals(code, q.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, (long) r * k + c), "row " + r + " col " + c);
                    assertEquals(code * scale, back[r * k + c], 0f, "reader: ŵ = q · s exactly");
                }
            }
        }

        // the same checkpoint with its input_activations removed, evaluated with --activations int8-token, is the
        // declared path to the last bit; and the activations change the result (they are really quantized)
        Path weightOnly = copyWithoutActivations(out, tmp.resolve("w8"));
        Path data = SharedData.data("eval_code.txt");
        var all = EnumSet.allOf(LinearInput.class);
        double declared = ppl(new EvalRequest(out, data, 64, 1, Protocol.REFERENCE, null, 2, 2));
        double flag = ppl(new EvalRequest(weightOnly, data, 64, 1, Protocol.REFERENCE, null, 2, 2,
                new ActivationRequest(ActivationScheme.intPerToken(8), all, null, 0, 64)));
        double w8 = ppl(new EvalRequest(weightOnly, data, 64, 1, Protocol.REFERENCE, null, 2, 2));
        assertEquals(flag, declared, 0.0);
        assertNotEquals(w8, declared, "int8 activations change the perplexity");
        assertEquals(2, Main.execute("evaluate", out.toString(), "--data", data.toString(), "--max-windows", "1", "--activations", "int8-token"),
                "a checkpoint that declares its activations refuses --activations");
    }

    /**
     * Static per-tensor activations on layer 0 only (its inputs are the fp model's, whatever the run quantizes): each
     * Linear stores {@code input_scale} = max |x| / 127.5 over the calibration windows, x measured here by running the
     * source model; the evaluator applies them to layer 0's inputs only (the other layers are not quantized).
     */
    @Test
    void staticW8a8StoresCalibratedInputScales() throws Exception {
        Path out = tmp.resolve("static");
        Path calib = SharedData.data("calib_code.txt");
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", out.toString(), "--method", "rtn", "--scheme", "w8a8",
                "--act", "static", "--calib", calib.toString(), "--calib-samples", "3", "--calib-seqlen", "64",
                "--targets", "layers\\.0\\.", "-q"));
        JsonNode qc = JSON.readTree(Files.readString(out.resolve("config.json"))).path("quantization_config");
        JsonNode a = qc.path("config_groups").path("group_0").path("input_activations");
        assertEquals("tensor", a.path("strategy").asText());
        assertFalse(a.path("dynamic").asBoolean());
        assertTrue(qc.path("ignore").toString().contains("model.layers.1.mlp.down_proj"), qc.path("ignore").toString());

        float[] max = new float[LinearInput.values().length];
        try (ModelSource src = ModelSource.open(MODEL); LlamaRunner runner = LlamaRunner.open(src, 2)) {
            int[][] windows = CalibrationSet.first(src, calib, 64, 3);
            NDArray h = runner.embed(windows);
            NDArray next = runner.runLayer(0, h, (layer, in, x) -> max[in.ordinal()] = Math.max(max[in.ordinal()], x.abs().max().getFloat()));
            next.close();
            h.close();
        }
        try (TensorSource raw = ShardedSafetensors.open(out); ModelSource back = ModelSource.open(out)) {
            for (LinearInput in : LinearInput.values()) {
                for (var l : in.readers()) {
                    String module = runnerArch().linearName(0, l);
                    Tensor t = raw.tensor(module + ".input_scale");
                    assertEquals(DType.F32, t.dtype());
                    assertEquals(1, t.elementCount());
                    // same windows and arithmetic, possibly another batch split: 1e-5 relative covers f32 reordering
                    assertEquals(max[in.ordinal()] / 127.5, t.getFloat(0), 1e-5 * max[in.ordinal()] / 127.5, module);
                    assertTrue(back.quantizesInput(module));
                }
            }
            assertFalse(back.quantizesInput("model.layers.1.self_attn.q_proj"), "an ignored Linear reads fp inputs");
            assertEquals(ActivationScheme.intStaticPerTensor(8), back.activationScheme());
        }
        Path data = SharedData.data("eval_code.txt");
        double declared = ppl(new EvalRequest(out, data, 64, 1, Protocol.REFERENCE, null, 2, 2));
        assertTrue(Double.isFinite(declared) && declared > 1, "perplexity " + declared);
    }

    @Test
    void smoothQuantWritesW8a8AndRefusesWhatItCannotStore() throws Exception {
        Path calib = SharedData.data("calib_code.txt");
        Path out = tmp.resolve("sq");
        List<String> base = List.of("quantize", MODEL.toString(), "--calib", calib.toString(), "--calib-samples", "1", "--calib-seqlen", "32", "-q");
        assertEquals(0, run(base, "-o", out.toString(), "--method", "smoothquant", "--scheme", "w8a8", "--smooth-alpha", "0.6"));
        JsonNode recipe = JSON.readTree(Files.readString(out.resolve("recipe.json")));
        assertEquals("smooth", recipe.path("steps").get(0).path("type").asText());
        assertEquals(0.6, recipe.path("steps").get(0).path("alpha").asDouble(), 0.0);
        assertEquals("int8-token", recipe.path("output").path("input_activations").asText());
        // the migration is written: input_layernorm now differs from the source's
        try (ModelSource src = ModelSource.open(MODEL); ModelSource q = ModelSource.open(out)) {
            String norm = "model.layers.0.input_layernorm.weight";
            assertFalse(java.util.Arrays.equals(src.readAll(norm), q.readAll(norm)));
        }
        // bad input: exit 2, nothing written
        String[][] refused = {
            {"--method", "smoothquant", "--scheme", "w8a8", "--smooth-alpha", "1"},
            {"--method", "smoothquant", "--scheme", "w8a8", "--smooth-alpha", "0"},
            {"--method", "smoothquant", "--scheme", "fp8"},
            {"--method", "smoothquant", "--bits", "4"},
            {"--method", "rtn", "--scheme", "w8a8", "--format", "gptq"},
            {"--method", "rtn", "--scheme", "w8a8", "--bits", "4"},
            {"--method", "rtn", "--scheme", "w8a8", "--act", "sometimes"},
            {"--method", "rtn", "--bits", "8", "--act", "static"},
            {"--method", "gptq", "--smooth-alpha", "0.5"},
        };
        for (String[] args : refused) {
            Path bad = tmp.resolve("bad");
            assertEquals(2, run(base, Stream.concat(Stream.of("-o", bad.toString()), Stream.of(args)).toArray(String[]::new)), String.join(" ", args));
            assertFalse(Files.exists(bad), "nothing written for " + String.join(" ", args));
        }
        Path noCalib = tmp.resolve("nocalib");
        assertEquals(2, Main.execute("quantize", MODEL.toString(), "-o", noCalib.toString(), "--method", "rtn", "--scheme", "w8a8", "--act", "static", "-q"));
        assertFalse(Files.exists(noCalib));
    }

    /**
     * {@code alpha: search} into W8A8 static (a recipe, with a 3-point grid to keep the test short): the recipe written
     * next to the checkpoint records {@code alpha: search} and the scheme the search scored with (the output's), and
     * reads back as a valid recipe (the replay); the manifest and the report ({@code --json}) list the α chosen per mapping and layer,
     * each a grid point. {@code --smooth-alpha} takes a number or {@code search}; another word is exit 2 with nothing written. (The
     * search itself: {@code TransformEquivalenceTest}, {@code SmoothQuantTest}.)
     */
    @Test
    void smoothQuantAlphaSearchRecordsItsSchemeAndChoices() throws Exception {
        Path calib = SharedData.data("calib_code.txt");
        Path out = tmp.resolve("sq-search");
        Path recipe = tmp.resolve("search.yaml");
        Files.writeString(recipe, """
                version: 2
                steps:
                  - {type: smooth, alpha: search, grid: 3}
                  - {type: rtn, bits: 8, group_size: -1, symmetric: true}
                calibration: {data: %s, samples: 1, seqlen: 32}
                output: {format: compressed-tensors, input_activations: int8-tensor}
                """.formatted(calib));
        QuantizeReport report = QuantizePipeline.run(MODEL, out, dev.lowbit.pipeline.recipe.Recipe.read(recipe), recipe, false, 2,
                QuantizePipeline.Listener.NONE);
        JsonNode step = JSON.readTree(Files.readString(out.resolve("recipe.json"))).path("steps").get(0);
        assertEquals("search", step.path("alpha").asText());
        assertEquals("int8-tensor", step.path("activations").asText());
        assertEquals(3, step.path("grid").asInt());
        dev.lowbit.pipeline.recipe.Recipe.read(out.resolve("recipe.json"));
        // 6 layers × the two norms' mappings, each α one of 0.25, 0.5, 0.75
        JsonNode chosen = JSON.readTree(Files.readString(out.resolve("lowbit-manifest.json"))).path("figures").path("transform_choices").path("smooth");
        assertEquals(12, chosen.size(), chosen.toString());
        for (JsonNode a : chosen) assertTrue(List.of(0.25, 0.5, 0.75).contains(a.asDouble()), chosen.toString());
        assertTrue(chosen.has("model.layers.5.post_attention_layernorm -> gate_proj,up_proj"), chosen.toString());
        assertEquals(chosen, JSON.readTree(report.toJson()).path("transform_choices").path("smooth"), "--json lists the same choices");
        List<String> base = List.of("quantize", MODEL.toString(), "--calib", calib.toString(), "--calib-samples", "1", "--calib-seqlen", "32", "-q");
        Path bad = tmp.resolve("bad-search");
        assertEquals(2, run(base, "-o", bad.toString(), "--method", "smoothquant", "--scheme", "w8a8", "--smooth-alpha", "often"));
        assertFalse(Files.exists(bad));
    }

    static dev.lowbit.calib.model.Architecture runnerArch() {
        try (LlamaRunner r = LlamaRunner.open(MODEL, 1)) {
            return r.config().architecture();
        }
    }

    static int run(List<String> base, String... more) {
        return Main.execute(Stream.concat(base.stream(), Stream.of(more)).toArray(String[]::new));
    }

    static Path copyWithoutActivations(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(from)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                if (p.getFileName().toString().equals("config.json")) {
                    ObjectNode cfg = (ObjectNode) JSON.readTree(Files.readString(p));
                    ((ObjectNode) cfg.path("quantization_config").path("config_groups").path("group_0")).putNull("input_activations");
                    Files.writeString(to.resolve("config.json"), JSON.writeValueAsString(cfg));
                } else {
                    Files.copy(p, to.resolve(p.getFileName()));
                }
            }
        }
        return to;
    }

    static double ppl(EvalRequest r) {
        return Evaluator.evaluate(r, Evaluator.Progress.NONE).perplexity();
    }
}
