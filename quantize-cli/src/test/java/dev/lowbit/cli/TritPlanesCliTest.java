package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.pipeline.output.CliRun;
import dev.lowbit.calib.eval.Evaluator;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.hf.DequantizingSource;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.ptq.ternary.Ptqtp;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ptqtp} into format trit-planes on tiny-llama-code: the written file is the in-memory result; bad input. */
class TritPlanesCliTest {
    static final Path MODEL = SharedData.tinyLlama();

    @TempDir
    Path tmp;

    private Path recipe(String body) throws Exception {
        Path r = tmp.resolve("recipe-" + System.nanoTime() + ".json");
        Files.writeString(r, body);
        return r;
    }

    private static String ptqtp(int group, String format) {
        return """
                {"version": 2, "steps": [{"type": "ptqtp", "group_size": %d, "iterations": 10,
                  "targets": ["layers\\\\.0\\\\.self_attn\\\\.q_proj", "layers\\\\.1\\\\.mlp\\\\.down_proj"]}],
                 "output": {"format": "%s"}}""".formatted(group, format);
    }

    /** The recipe leaves {@code start} out: the in-memory fit uses the default, the multi start. */
    @Test
    void theWrittenCheckpointIsExactlyTheInMemoryFit() throws Exception {
        Path out = tmp.resolve("tp");
        CliRun run = CliRun.run("quantize", MODEL.toString(), "-o", out.toString(), "--recipe",
                recipe(ptqtp(128, "trit-planes")).toString(), "-q");
        assertEquals(0, run.code(), run.err());
        JsonNode qc = new ObjectMapper().readTree(Files.readString(out.resolve("config.json"))).path("quantization_config");
        assertEquals("lowbit-trit-planes", qc.path("quant_method").asText());
        assertEquals(2, qc.path("planes").asInt());
        assertEquals("base3", qc.path("packing").asText());
        String[][] targets = {{"model.layers.0.self_attn.q_proj", "0", "Q"}, {"model.layers.1.mlp.down_proj", "1", "DOWN"}};
        try (TensorSource written = DequantizingSource.openDirectory(out);
             LlamaRunner inMemory = LlamaRunner.open(MODEL, 2);
             LlamaRunner fromFile = LlamaRunner.open(out, 2);
             LlamaRunner lut = LlamaRunner.open(out, 2)) {
            assertEquals(2, ((DequantizingSource) written).quantizedModules().size());
            for (String[] t : targets) {
                int layer = Integer.parseInt(t[1]);
                Linear l = Linear.valueOf(t[2]);
                long[] s = inMemory.linearShape(l);
                float[] w = inMemory.linearWeight(layer, l);
                float[] fit = Ptqtp.quantize(t[0], w, (int) s[0], (int) s[1], Ptqtp.scheme(128, 2, 1.6), 10,
                        dev.lowbit.ptq.ternary.TritPlaneFit.Start.MULTI, null).tensor().dequantize();
                assertArrayEquals(fit, written.tensor(t[0] + ".weight").toFloatArray(), 0f, t[0]);
                inMemory.setLinearWeight(layer, l, fit);
            }
            // the same f32 weights run through the same forward: logits equal to the bit
            int[][] window = {new int[64]};
            for (int i = 0; i < 64; i++) window[0][i] = 100 + 37 * i % 8000;
            float[] expected;
            try (NDArray a = Evaluator.logits(inMemory, window)) {
                expected = a.toFloatArray();
            }
            // the default: the dequantized weights through DJL's matmul
            try (NDArray b = Evaluator.logits(fromFile, window)) {
                assertArrayEquals(expected, b.toFloatArray(), 0f);
            }
            // -Dlowbit.trit.kernel=lut: the two trit-plane Linears (q_proj, down_proj) run by the LUT kernel. Only the
            // summation order differs (f32 rounding, ~1e-6 relative per output); 1e-3 on logits of magnitude ~10 is the
            // golden-logit bar halved. (o_proj inputs are not covered: see LlamaRunner#tritMatrix.)
            System.setProperty("lowbit.trit.kernel", "lut");
            try (NDArray c = Evaluator.logits(lut, window)) {
                float[] got = c.toFloatArray();
                double max = 0;
                for (int i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - expected[i]));
                assertTrue(max < 1e-3, "LUT kernel logits differ by " + max);
                // and it did run: the f32 matmul's order would have given the same bits
                assertTrue(max > 0, "logits identical to the f32 path: the LUT kernel was not used");
            } finally {
                System.clearProperty("lowbit.trit.kernel");
            }
        }
    }

    private static String binarize(String params, boolean calibrated) {
        String cal = calibrated ? "\"calibration\": {\"data\": \"" + SharedData.data("calib_code.txt") + "\", \"samples\": 4, \"seqlen\": 64}, " : "";
        return """
                {"version": 2, "steps": [{"type": "binarize", %s
                  "targets": ["layers\\\\.0\\\\.self_attn\\\\.q_proj", "layers\\\\.1\\\\.mlp\\\\.down_proj"]}], %s
                 "output": {"format": "trit-planes"}}""".formatted(params, cal);
    }

    @Test
    void binaryRtnIsWrittenExactlyAtOneBitPlusScales() throws Exception {
        Path out = tmp.resolve("bin-rtn");
        CliRun run = CliRun.run("quantize", MODEL.toString(), "-o", out.toString(), "--recipe",
                recipe(binarize("\"salient_fraction\": 0, \"error_feedback\": false,", false)).toString(), "-q", "--json");
        assertEquals(0, run.code(), run.err());
        JsonNode qc = new ObjectMapper().readTree(Files.readString(out.resolve("config.json"))).path("quantization_config");
        assertEquals(2, qc.path("format_version").asInt());
        assertEquals("1bit", qc.path("packing").asText());
        // bytes: 1 bit per weight, two f16 scales per row and group of 512, two column masks of cols/8 bytes, the shape
        long params = 512L * 512 + 512L * 1536, bytes = params / 8 + 2L * 2 * (512 + 512 * 3) + 2L * (512 + 1536) / 8 + 2 * 16;
        double bits = new ObjectMapper().readTree(run.out()).path("linear_bits_per_weight").asDouble();
        assertEquals(bytes * 8.0 / params, bits, 1e-9, run.out());
        try (TensorSource written = DequantizingSource.openDirectory(out); LlamaRunner fp = LlamaRunner.open(MODEL, 2)) {
            String[][] targets = {{"model.layers.0.self_attn.q_proj", "0", "Q"}, {"model.layers.1.mlp.down_proj", "1", "DOWN"}};
            for (String[] t : targets) {
                Linear l = Linear.valueOf(t[2]);
                long[] s = fp.linearShape(l);
                float[] w = fp.linearWeight(Integer.parseInt(t[1]), l);
                float[] rtn = dev.lowbit.ptq.ternary.BinaryGrid.quantizeDirect(t[0], w, (int) s[0], (int) s[1],
                        dev.lowbit.ptq.ternary.BinaryGrid.scheme(512), new boolean[(int) s[1]], null).dequantize();
                assertArrayEquals(rtn, written.tensor(t[0] + ".weight").toFloatArray(), 0f, t[0]);
            }
        }
    }

    @Test
    void calibratedBinarizationStaysUnderOnePointTwoBitsAndRunsOnTheLutKernel() throws Exception {
        Path out = tmp.resolve("bin");
        CliRun run = CliRun.run("quantize", MODEL.toString(), "-o", out.toString(), "--recipe",
                recipe(binarize("", true)).toString(), "-q", "--json");
        assertEquals(0, run.code(), run.err());
        double bits = new ObjectMapper().readTree(run.out()).path("linear_bits_per_weight").asDouble();
        // 1 + 0.1 (salient residual signs) + 2·16/512 (scales) + masks ≈ 1.17
        assertTrue(bits > 1.1 && bits <= 1.2, run.out());
        int[][] window = {new int[32]};
        for (int i = 0; i < 32; i++) window[0][i] = 200 + 41 * i % 8000;
        try (LlamaRunner f32 = LlamaRunner.open(out, 2); NDArray a = Evaluator.logits(f32, window)) {
            float[] expected = a.toFloatArray();
            System.setProperty("lowbit.trit.kernel", "lut");
            try (LlamaRunner lut = LlamaRunner.open(out, 2); NDArray b = Evaluator.logits(lut, window)) {
                float[] got = b.toFloatArray();
                double max = 0;
                for (int i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - expected[i]));
                // summation order only (see theWrittenCheckpointIsExactlyTheInMemoryFit)
                assertTrue(max < 1e-3 && max > 0, "LUT vs f32 logits differ by " + max);
            } finally {
                System.clearProperty("lowbit.trit.kernel");
            }
        }
    }

    @Test
    void pbLlmKeepsTheSalientTenthAtEightBitsAndCountsItsMask() throws Exception {
        Path out = tmp.resolve("pbllm");
        String cal = "\"calibration\": {\"data\": \"" + SharedData.data("calib_code.txt") + "\", \"samples\": 4, \"seqlen\": 64}, ";
        String body = """
                {"version": 2, "steps": [{"type": "pb-llm",
                  "targets": ["layers\\\\.0\\\\.self_attn\\\\.q_proj", "layers\\\\.1\\\\.mlp\\\\.down_proj"]}], %s
                 "output": {"format": "trit-planes"}}""".formatted(cal);
        CliRun run = CliRun.run("quantize", MODEL.toString(), "-o", out.toString(), "--recipe", recipe(body).toString(), "-q", "--json");
        assertEquals(0, run.code(), run.err());
        JsonNode qc = new ObjectMapper().readTree(Files.readString(out.resolve("config.json"))).path("quantization_config");
        assertEquals(3, qc.path("format_version").asInt());
        assertEquals(1, qc.path("planes").asInt());
        // bytes, from the definition: 1 sign bit per weight, the salient mask (1 bit per weight), one byte per salient
        // weight (10%, rounded per matrix), f16 α per row and group of 512, an f16 salient scale per row, the column
        // mask of the one plane, the shape
        long q = 512L * 512, down = 512L * 1536;
        long salient = Math.round(0.1 * q) + Math.round(0.1 * down);
        long bytes = 2 * (q + down) / 8 + salient + 2L * (512 + 512 * 3) + 2L * (512 + 512) + (512 + 1536) / 8 + 2 * 16;
        double bits = new ObjectMapper().readTree(run.out()).path("linear_bits_per_weight").asDouble();
        assertEquals(bytes * 8.0 / (q + down), bits, 1e-9, run.out());
        try (TensorSource written = DequantizingSource.openDirectory(out)) {
            var tq = ((DequantizingSource) written).quantized("model.layers.0.self_attn.q_proj");
            assertEquals(Math.round(0.1 * q), tq.salient().count());
            // every weight is ±α of its row-group or a salient scale·code
            float[] w = written.tensor("model.layers.0.self_attn.q_proj.weight").toFloatArray();
            for (int i = 0; i < w.length; i++) {
                int r = i / 512;
                float expected = tq.salient().mask()[i] != 0 ? tq.salient().scales()[r] * tq.salient().codes()[i]
                        : (tq.codes()[i] == 2 ? 1 : -1) * tq.scales()[r];
                assertEquals(expected, w[i], 0f, "element " + i);
            }
        }
        // the LUT kernel has no path for salient weights: those Linears stay on the f32 matmul (logits identical)
        int[][] window = {new int[16]};
        for (int i = 0; i < 16; i++) window[0][i] = 500 + 29 * i % 8000;
        try (LlamaRunner f32 = LlamaRunner.open(out, 2); NDArray a = Evaluator.logits(f32, window)) {
            float[] expected = a.toFloatArray();
            System.setProperty("lowbit.trit.kernel", "lut");
            try (LlamaRunner lut = LlamaRunner.open(out, 2); NDArray b = Evaluator.logits(lut, window)) {
                assertArrayEquals(expected, b.toFloatArray(), 0f);
            } finally {
                System.clearProperty("lowbit.trit.kernel");
            }
        }
    }

    @Test
    void binarizeWithSalientColumnsButNoCalibrationIsExit2() throws Exception {
        Path out = tmp.resolve("bin-nocal");
        CliRun run = CliRun.run("quantize", MODEL.toString(), "-o", out.toString(), "--recipe", recipe(binarize("", false)).toString());
        assertEquals(2, run.code(), run.err());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertFalse(Files.exists(out));
    }

    /**
     * A layer whose down_proj runs by the LUT kernel returns a view of that Linear's output; the output must stay valid
     * after the layer's scope has closed and the garbage collector has run (it once was a view of a Java direct buffer
     * that DJL released with the closed array: freed, reused memory, logits off by up to 8.9 on whole windows).
     */
    @Test
    void lutLayerOutputsSurviveGarbageCollection() throws Exception {
        Path out = tmp.resolve("tp-gc");
        CliRun run = CliRun.run("quantize", MODEL.toString(), "-o", out.toString(), "--recipe",
                recipe(ptqtp(128, "trit-planes")).toString(), "-q");
        assertEquals(0, run.code(), run.err());
        int[][] window = {new int[16]};
        for (int i = 0; i < 16; i++) window[0][i] = 300 + 53 * i % 8000;
        try (LlamaRunner f32 = LlamaRunner.open(out, 2)) {
            System.setProperty("lowbit.trit.kernel", "lut");
            try (LlamaRunner lut = LlamaRunner.open(out, 2)) {
                NDArray hf = f32.embed(window), hl = lut.embed(window);
                for (int l = 0; l < f32.config().numLayers(); l++) {
                    NDArray nf = f32.runLayer(l, hf, dev.lowbit.calib.model.LinearHook.NONE);
                    NDArray nl = lut.runLayer(l, hl, dev.lowbit.calib.model.LinearHook.NONE);
                    hf.close();
                    hl.close();
                    hf = nf;
                    hl = nl;
                    churnNativeMemory(16 * 512 * 4);
                    float[] a = hf.toFloatArray(), b = hl.toFloatArray();
                    double max = 0;
                    for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
                    // only the summation order differs (~1e-6 relative on hidden states of magnitude ≤ ~100)
                    assertTrue(max < 1e-3, "layer " + l + " output: LUT and f32 paths differ by " + max);
                }
                hf.close();
                hl.close();
            } finally {
                System.clearProperty("lowbit.trit.kernel");
            }
        }
    }

    /** Lets the collector free unreachable direct buffers, then fills freshly allocated native memory of that size with garbage. */
    private static void churnNativeMemory(int bytes) throws InterruptedException {
        java.util.List<java.nio.ByteBuffer> keep = new java.util.ArrayList<>();
        for (int round = 0; round < 5; round++) {
            System.gc();
            Thread.sleep(20);
            for (int i = 0; i < 16; i++) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(bytes);
                while (b.remaining() >= 4) b.putFloat(1e30f);
                keep.add(b);
            }
        }
        keep.clear();
    }

    /**
     * The calibrated setting of README's best whole-file row (rotate, then ptqtp with feedback, refit and descent) parses,
     * runs, writes a trit-plane checkpoint and is recorded for replay. Small: 4 × 64 calibration tokens, layer 0's q_proj
     * only, the progressive start with 10 alternations (the row uses the multi start, the default, ~5× slower here);
     * that the descent lowers the output error is PtqtpTest's.
     */
    @Test
    void theRotatedDescentSettingRunsAndIsRecorded() throws Exception {
        String cal = "\"calibration\": {\"data\": \"" + SharedData.data("calib_code.txt") + "\", \"samples\": 4, \"seqlen\": 64}, ";
        Path out = tmp.resolve("rot-descent");
        String body = """
                {"version": 2, "steps": [{"type": "rotate"}, {"type": "ptqtp", "start": "progressive", "iterations": 10,
                  "error_feedback": true, "refit_scales": true, "descent_passes": 10, "descent_cycles": 4,
                  "targets": ["layers\\\\.0\\\\.self_attn\\\\.q_proj"]}], %s
                 "output": {"format": "trit-planes"}}""".formatted(cal);
        CliRun run = CliRun.run("quantize", MODEL.toString(), "-o", out.toString(), "--recipe", recipe(body).toString(), "-q");
        assertEquals(0, run.code(), run.err());
        JsonNode step = new ObjectMapper().readTree(Files.readString(out.resolve("recipe.json"))).path("steps").path(1);
        assertEquals(10, step.path("descent_passes").asInt(-1), step.toString());
        assertEquals(4, step.path("descent_cycles").asInt(-1), step.toString());
        try (TensorSource src = DequantizingSource.openDirectory(out)) {
            assertEquals(1, ((DequantizingSource) src).quantizedModules().size());
        }
    }

    @Test
    void aPtqtpFlagThatDoesNotApplyIsExit2NamingItAndWritesNothing() throws Exception {
        String cal = "\"calibration\": {\"data\": \"" + SharedData.data("calib_code.txt") + "\", \"samples\": 4, \"seqlen\": 64}, ";
        String[][] cases = {
                {"\"refit_scales\": true,", "refit_scales"},
                {"\"hessian_weighted\": true, \"error_feedback\": true,", "hessian_weighted"},
                {"\"error_feedback\": true, \"refit_rounds\": 3,", "refit_rounds"},
                {"\"error_feedback\": true, \"refit_scales\": true, \"refit_rounds\": 0,", "refit_rounds"},
                {"\"error_feedback\": true, \"descent_passes\": 2,", "descent_passes"},
                {"\"error_feedback\": true, \"refit_scales\": true, \"descent_passes\": -1,", "descent_passes"},
                {"\"error_feedback\": true, \"refit_scales\": true, \"descent_cycles\": 3,", "descent_cycles"},
                {"\"act_order\": true,", "act_order"}};
        for (String[] c : cases) {
            Path out = tmp.resolve("bad-flag");
            String body = """
                    {"version": 2, "steps": [{"type": "ptqtp", %s "targets": ["layers\\\\.0\\\\.self_attn\\\\.q_proj"]}], %s
                     "output": {"format": "trit-planes"}}""".formatted(c[0], cal);
            CliRun run = CliRun.run("quantize", MODEL.toString(), "-o", out.toString(), "--recipe", recipe(body).toString());
            assertEquals(2, run.code(), run.err());
            assertTrue(run.err().contains(c[1]), run.err());
            assertEquals(1, run.err().strip().lines().count(), run.err());
            assertFalse(Files.exists(out));
        }
    }

    /**
     * awq before ptqtp: the scale search fake-quantizes the mapping's Linears with the PTQTP fit (this chain was an
     * internal error, exit 1: the search rounded onto a one-plane RTN grid). Small: grid 2, 2 × 64 tokens scored, layer 0's
     * q, k, v only (the other Linears are not quantized, so the search leaves them unrounded).
     */
    @Test
    void awqBeforePtqtpSearchesOnTheTritFit() throws Exception {
        String cal = "\"calibration\": {\"data\": \"" + SharedData.data("calib_code.txt") + "\", \"samples\": 2, \"seqlen\": 64}, ";
        Path out = tmp.resolve("awq-tp");
        String body = """
                {"version": 2, "steps": [{"type": "awq", "clip": false, "grid": 2, "loss_tokens": 64},
                  {"type": "ptqtp", "start": "progressive", "iterations": 5, "targets": ["layers\\\\.0\\\\.self_attn\\\\.[qkv]_proj"]}], %s
                 "output": {"format": "trit-planes"}}""".formatted(cal);
        CliRun run = CliRun.run("quantize", MODEL.toString(), "-o", out.toString(), "--recipe", recipe(body).toString(), "-q");
        assertEquals(0, run.code(), run.err());
        JsonNode qc = new ObjectMapper().readTree(Files.readString(out.resolve("config.json"))).path("quantization_config");
        assertEquals("lowbit-trit-planes", qc.path("quant_method").asText());
        JsonNode choices = new ObjectMapper().readTree(Files.readString(out.resolve("lowbit-manifest.json")))
                .path("figures").path("transform_choices").path("awq");
        assertTrue(choices.has("model.layers.0.input_layernorm -> q_proj,k_proj,v_proj"), choices.toString());
        // the other trit steps have no fake-quantizer for the search, and awq's clip rounds onto an integer grid
        String[][] refused = {
                {"{\"type\": \"awq\"}, {\"type\": \"ptqtp\"}", "clip"},
                {"{\"type\": \"awq\", \"clip\": false}, {\"type\": \"binarize\"}", "ptqtp only"}};
        for (String[] c : refused) {
            Path bad = tmp.resolve("awq-bad");
            String b = """
                    {"version": 2, "steps": [%s], %s "output": {"format": "trit-planes"}}""".formatted(c[0], cal);
            CliRun r = CliRun.run("quantize", MODEL.toString(), "-o", bad.toString(), "--recipe", recipe(b).toString());
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains(c[1]), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertFalse(Files.exists(bad));
        }
    }

    @Test
    void aGroupThatDoesNotDivideTheRowIsExit2NamingTheTensorAndWritesNothing() throws Exception {
        String[] recipes = {ptqtp(96, "trit-planes"), binarize("\"group_size\": 96, \"salient_fraction\": 0, \"error_feedback\": false,", false)};
        for (String r : recipes) {
            Path out = tmp.resolve("bad-group");
            CliRun run = CliRun.run("quantize", MODEL.toString(), "-o", out.toString(), "--recipe", recipe(r).toString());
            assertEquals(2, run.code(), run.err());
            assertTrue(run.err().contains("model.layers.0.self_attn.q_proj.weight") && run.err().contains("96"), run.err());
            assertEquals(1, run.err().strip().lines().count(), run.err());
            assertFalse(Files.exists(out));
        }
    }

    @Test
    void aFormatThatCannotHoldTwoPlanesIsExit2NamingTheTensorAndWritesNothing() throws Exception {
        for (String format : new String[] {"gptq"}) {
            Path out = tmp.resolve("bad-" + format);
            CliRun run = CliRun.run("quantize", MODEL.toString(), "-o", out.toString(), "--recipe",
                    recipe(ptqtp(128, format)).toString());
            assertEquals(2, run.code(), format + ": " + run.err());
            assertTrue(run.err().contains("model.layers.0.self_attn.q_proj.weight") && run.err().contains("ternary"), run.err());
            assertFalse(Files.exists(out));
            try (var s = Files.list(tmp)) {
                assertTrue(s.noneMatch(p -> p.getFileName().toString().contains("lowbit-tmp")), "no temp data left");
            }
        }
    }
}
