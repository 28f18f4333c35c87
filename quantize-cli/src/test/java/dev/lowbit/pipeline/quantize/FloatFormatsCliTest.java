package dev.lowbit.pipeline.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.cli.Main;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.hf.DequantizingSource;
import dev.lowbit.io.hf.FloatDequantizingSource;
import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.ptq.grid.FpGrid;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lowbit quantize --scheme nvfp4 | mxfp4 | fp8} on tiny-llama-code: the written compressed-tensors checkpoint
 * reads back through our reader to exactly the in-memory result (RTN is deterministic: the same {@link FpGrid#rtn} on
 * the source weights), and its bytes, decoded here from the format's definition alone, give the same values.
 */
class FloatFormatsCliTest {
    static final Path MODEL = SharedData.tinyLlama();
    static final double[] E2M1 = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    static final String MODULE = "model.layers.3.mlp.down_proj";
    /** One Linear keeps the test fast; the pipeline treats every Linear alike. */
    static final String TARGET = "layers\\.3\\.mlp\\.down_proj";

    @TempDir
    Path tmp;

    @Test
    void nvfp4WithFourOverSixReadsBackExactlyAndDecodesPerDefinition() throws Exception {
        Path out = tmp.resolve("nvfp4");
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", out.toString(), "--method", "rtn", "--scheme", "nvfp4",
                "--four-over-six", "mse", "--targets", TARGET, "-q"));
        JsonNode qc = new ObjectMapper().readTree(Files.readString(out.resolve("config.json"))).path("quantization_config");
        assertEquals("nvfp4-pack-quantized", qc.path("format").asText());
        JsonNode w = qc.path("config_groups").path("group_0").path("weights");
        assertEquals("float", w.path("type").asText());
        assertEquals("tensor_group", w.path("strategy").asText());
        assertEquals(16, w.path("group_size").asInt());

        float[] mem = inMemory(FloatSchemes.NVFP4, FpGrid.FourOverSix.MSE);
        try (TensorSource read = DequantizingSource.openDirectory(out); TensorSource raw = ShardedSafetensors.open(out)) {
            assertTrue(read instanceof FloatDequantizingSource);
            assertEquals(List.of(MODULE), ((FloatDequantizingSource) read).quantizedModules());
            assertArrayEquals(mem, read.tensor(MODULE + ".weight").toFloatArray(), 0f, "reader = in-memory, bit for bit");

            Tensor packed = raw.tensor(MODULE + ".weight_packed"), scale = raw.tensor(MODULE + ".weight_scale");
            Tensor global = raw.tensor(MODULE + ".weight_global_scale");
            assertEquals(DType.U8, packed.dtype());
            assertEquals(DType.F8_E4M3, scale.dtype());
            assertEquals(DType.F32, global.dtype());
            int n = (int) packed.shape().dim(0), k = (int) packed.shape().dim(1) * 2;
            assertEquals(k / 16, scale.shape().dim(1));
            double g = global.getFloat(0);
            for (int r = 0; r < n; r++) {
                for (int c = 0; c < k; c++) {
                    int b = u8(packed, (long) r * (k / 2) + c / 2);
                    int nib = c % 2 == 0 ? b & 0xF : b >>> 4;
                    double v = (nib & 8) != 0 ? -E2M1[nib & 7] : E2M1[nib & 7];
                    double x = v * e4m3(u8(scale, (long) r * (k / 16) + c / 16)) / g;
                    // ours evaluates (1/G)·(s·v) in f32: within 2 ulp of the exact v·s/G
                    assertEquals(x, mem[r * k + c], 2 * Math.ulp((float) x) + 1e-30, "row " + r + " col " + c);
                }
            }
        }
    }

    @Test
    void mxfp4AndFp8ReadBackExactlyAndDecodePerDefinition() throws Exception {
        Path mx = tmp.resolve("mxfp4"), fp8 = tmp.resolve("fp8");
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", mx.toString(), "--method", "rtn", "--scheme", "mxfp4",
                "--mx-exponent", "compressed-tensors", "--targets", TARGET, "-q"));
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", fp8.toString(), "--method", "rtn", "--scheme", "fp8", "--targets", TARGET, "-q"));

        QuantScheme fp8Scheme = FloatSchemes.fp8(ElementType.E4M3, true);
        float[] memMx = inMemory(FloatSchemes.MXFP4, FpGrid.MxExponent.COMPRESSED_TENSORS);
        float[] memFp8 = inMemory(fp8Scheme, FpGrid.MxExponent.OCP);
        try (TensorSource read = DequantizingSource.openDirectory(mx); TensorSource raw = ShardedSafetensors.open(mx)) {
            assertArrayEquals(memMx, read.tensor(MODULE + ".weight").toFloatArray(), 0f);
            Tensor packed = raw.tensor(MODULE + ".weight_packed"), scale = raw.tensor(MODULE + ".weight_scale");
            assertEquals(DType.U8, scale.dtype());
            int k = (int) packed.shape().dim(1) * 2;
            for (int i = 0; i < memMx.length; i++) {
                int r = i / k, c = i % k;
                int b = u8(packed, (long) r * (k / 2) + c / 2);
                int nib = c % 2 == 0 ? b & 0xF : b >>> 4;
                double v = (nib & 8) != 0 ? -E2M1[nib & 7] : E2M1[nib & 7];
                assertEquals(v * Math.pow(2, u8(scale, (long) r * (k / 32) + c / 32) - 127), memMx[i], 0.0, "exact (power-of-two scale)");
            }
        }
        try (TensorSource read = DequantizingSource.openDirectory(fp8); TensorSource raw = ShardedSafetensors.open(fp8)) {
            JsonNode qc = new ObjectMapper().readTree(Files.readString(fp8.resolve("config.json"))).path("quantization_config");
            assertEquals("float-quantized", qc.path("format").asText());
            assertEquals("channel", qc.path("config_groups").path("group_0").path("weights").path("strategy").asText());
            assertArrayEquals(memFp8, read.tensor(MODULE + ".weight").toFloatArray(), 0f);
            Tensor w = raw.tensor(MODULE + ".weight"), s = raw.tensor(MODULE + ".weight_scale");
            assertEquals(DType.F8_E4M3, w.dtype());
            assertEquals(List.of(w.shape().dim(0), 1L), List.of(s.shape().dim(0), s.shape().dim(1)));
            int k = (int) w.shape().dim(1);
            for (int i = 0; i < memFp8.length; i++) {
                double x = e4m3(u8(w, i)) * s.getFloat(i / k);
                assertEquals(x, memFp8[i], Math.ulp((float) x), "one f32 rounding of the product");
            }
        }
    }

    @Test
    void badInputIsExitTwoNamingTheCause() {
        String[][] cases = {
            {"--scheme", "nvfp4", "--bits", "4"},            // the scheme fixes the grid
            {"--scheme", "nvfp4", "--format", "gptq"},       // GPTQ v1 has no float codes
            {"--scheme", "mxfp4", "--four-over-six", "mse"}, // 4/6 is NVFP4's
            {"--scheme", "nvfp4", "--mx-exponent", "ocp"},
            {"--four-over-six", "mse"},                      // int scheme
            {"--scheme", "mxfp6_e3m2"},                      // no compressed-tensors format
            {"--scheme", "fp4"},                             // unknown
            {"--scheme", "nvfp4", "--input-activations", "fp8-token"}, // FP8 activations go with FP8 weights
            {"--scheme", "fp8", "--input-activations", "fp9-token"},   // not a scheme
            {"--scheme", "fp8", "--input-activations", "fp8-token", "--format", "gptq"},
        };
        for (String[] c : cases) {
            Path out = tmp.resolve("bad");
            String[] args = new String[7 + c.length];
            System.arraycopy(new String[] {"quantize", MODEL.toString(), "-o", out.toString(), "--method", "rtn", "-q"}, 0, args, 0, 7);
            System.arraycopy(c, 0, args, 7, c.length);
            assertEquals(2, Main.execute(args), String.join(" ", c));
            assertFalse(Files.exists(out), String.join(" ", c));
        }
    }

    /**
     * A row length the block does not divide (MXFP4 blocks of 32 on a down_proj whose in_features are 80 — NVFP4's 16
     * divide it) is exit 2 before anything is written, naming the tensor (NaN weights: NonFiniteCliTest).
     */
    @Test
    void blockThatDoesNotDivideTheRowIsRefusedNamingTheTensor() throws Exception {
        Path odd = tmp.resolve("odd");
        dev.lowbit.pipeline.synth.SyntheticCheckpoint.write(
                new dev.lowbit.pipeline.synth.SyntheticCheckpoint.Spec(64, 1, 4, 4, 80, 8192, 256, 3), odd, MODEL, 1L << 30);
        Path out = tmp.resolve("odd-out");
        dev.lowbit.pipeline.output.CliRun r = dev.lowbit.pipeline.output.CliRun.run("quantize", odd.toString(), "-o", out.toString(),
                "--method", "rtn", "--scheme", "mxfp4", "-q");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("model.layers.0.mlp.down_proj.weight") && r.err().contains("80"), r.err());
        assertFalse(Files.exists(out));
        assertEquals(0, Main.execute(new String[] {"quantize", odd.toString(), "-o", out.toString(), "--method", "rtn",
                "--scheme", "nvfp4", "-q"}), "NVFP4's blocks of 16 divide 80");
    }

    static float[] inMemory(QuantScheme scheme, Object option) {
        try (TensorSource src = ShardedSafetensors.open(MODEL)) {
            Tensor t = src.tensor(MODULE + ".weight");
            int rows = (int) t.shape().dim(0), cols = (int) t.shape().dim(1);
            FpGrid.MxExponent mx = option instanceof FpGrid.MxExponent m ? m : null;
            FpGrid.FourOverSix fos = option instanceof FpGrid.FourOverSix f ? f : FpGrid.FourOverSix.OFF;
            return FpGrid.rtn(MODULE, t.toFloatArray(), rows, cols, scheme, mx, fos, null).dequantize();
        }
    }

    static int u8(Tensor t, long i) {
        return t.data().get(ValueLayout.JAVA_BYTE, i) & 0xFF;
    }

    /** E4M3 (OCP, fn) from its bit fields: bias 7, subnormal 2^-6·m/8. */
    static double e4m3(int b) {
        int e = (b >>> 3) & 0xF, m = b & 7;
        double v = e == 0 ? Math.pow(2, -6) * m / 8 : Math.pow(2, e - 7) * (1 + m / 8.0);
        return (b & 0x80) != 0 ? -v : v;
    }

    /**
     * W8A8-FP8: {@code --scheme fp8 --input-activations fp8-token} declares FP8_DYNAMIC's input activations, and
     * {@code evaluate} applies them by itself: the same perplexity, to the last bit, as the weight-only FP8 checkpoint
     * evaluated with {@code --activations fp8-token} (one code path, deterministic), and not the weight-only figure
     * (the activations are really quantized).
     */
    @Test
    void w8a8Fp8CheckpointAppliesItsDeclaredActivations() throws Exception {
        Path w8a8 = tmp.resolve("w8a8"), w8 = tmp.resolve("w8");
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", w8a8.toString(), "--method", "rtn", "--scheme", "fp8",
                "--input-activations", "fp8-token", "--targets", TARGET, "-q"));
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", w8.toString(), "--method", "rtn", "--scheme", "fp8",
                "--targets", TARGET, "-q"));
        JsonNode a = new ObjectMapper().readTree(Files.readString(w8a8.resolve("config.json")))
                .path("quantization_config").path("config_groups").path("group_0").path("input_activations");
        assertEquals("float", a.path("type").asText());
        assertEquals(8, a.path("num_bits").asInt());
        assertEquals("token", a.path("strategy").asText());
        assertTrue(a.path("dynamic").asBoolean());
        Path data = SharedData.data("eval_code.txt");
        var all = java.util.EnumSet.allOf(dev.lowbit.calib.model.LinearInput.class);
        double declared = ppl(new dev.lowbit.calib.eval.EvalRequest(w8a8, data, 128, 2, dev.lowbit.calib.eval.Protocol.REFERENCE, null, 2, 2));
        double flag = ppl(new dev.lowbit.calib.eval.EvalRequest(w8, data, 128, 2, dev.lowbit.calib.eval.Protocol.REFERENCE, null, 2, 2,
                new dev.lowbit.calib.eval.ActivationRequest(dev.lowbit.io.quant.ActivationScheme.fp8PerToken(), all, null, 0, 128)));
        double weightOnly = ppl(new dev.lowbit.calib.eval.EvalRequest(w8, data, 128, 2, dev.lowbit.calib.eval.Protocol.REFERENCE, null, 2, 2));
        assertEquals(flag, declared, 0.0);
        assertTrue(declared != weightOnly, "FP8 activations change the result: " + declared + " vs " + weightOnly);
        assertEquals(2, Main.execute("evaluate", w8a8.toString(), "--data", data.toString(), "--max-windows", "1", "--activations", "int8-token"),
                "a checkpoint that declares its activations refuses --activations");
    }

    static double ppl(dev.lowbit.calib.eval.EvalRequest r) {
        return dev.lowbit.calib.eval.Evaluator.evaluate(r, dev.lowbit.calib.eval.Evaluator.Progress.NONE).perplexity();
    }
}
