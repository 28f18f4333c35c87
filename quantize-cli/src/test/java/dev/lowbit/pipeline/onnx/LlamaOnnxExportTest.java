package dev.lowbit.pipeline.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.model.LinearHook;
import dev.lowbit.calib.model.LlamaConfig;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.onnx.OrtRunner;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxModel;
import dev.lowbit.io.onnx.OnnxReader;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.safetensors.SafetensorsFile;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.pipeline.output.CliRun;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tiny-llama-code exported to ONNX and run by ONNX Runtime: the fp32 graph gives the reference implementation's golden
 * logits, its KV cache continues a prefix exactly as the full sequence does, and an exported RTN checkpoint
 * (MatMulNBits carrying the checkpoint's own codes) gives our runtime's logits on that checkpoint.
 */
class LlamaOnnxExportTest {
    /** As GoldenLogitsTest: f32 on both sides, summation order differs; wrong RoPE / GQA / norm moves logits by O(1). */
    static final double TOLERANCE = 2e-3;

    @TempDir
    static Path tmp;

    static int[] goldenIds;
    static float[] goldenLogits;

    static void loadGolden() {
        if (goldenIds != null) return;
        try (SafetensorsFile golden = SafetensorsFile.open(SharedData.data("tiny-llama-code.golden-logits.safetensors"))) {
            Tensor ids = golden.tensor("input_ids");
            goldenIds = new int[(int) ids.elementCount()];
            for (int i = 0; i < goldenIds.length; i++) goldenIds[i] = (int) ids.getLong(i);
            goldenLogits = golden.tensor("logits").toFloatArray();
        }
    }

    static Map<String, OnnxTensor> feeds(LlamaConfig c, int[] ids, int from, int to, Map<String, OnnxTensor> past) {
        int s = to - from;
        ByteBuffer b = ByteBuffer.allocate(s * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = from; i < to; i++) b.putLong(ids[i]);
        ByteBuffer m = ByteBuffer.allocate(to * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < to; i++) m.putLong(1);
        Map<String, OnnxTensor> f = new LinkedHashMap<>();
        f.put("input_ids", OnnxTensor.ofBytes("input_ids", OnnxDataType.INT64, new long[]{1, s}, b.array()));
        f.put("attention_mask", OnnxTensor.ofBytes("attention_mask", OnnxDataType.INT64, new long[]{1, to}, m.array()));
        for (int l = 0; l < c.numLayers(); l++) {
            for (String kv : List.of("key", "value")) {
                String name = "past_key_values." + l + "." + kv;
                OnnxTensor p = past == null ? OnnxTensor.ofBytes(name, OnnxDataType.FLOAT, new long[]{1, c.numKvHeads(), 0, c.headDim()}, new byte[0])
                        : past.get("present." + l + "." + kv);
                f.put(name, p.with(name, p.dims()));
            }
        }
        return f;
    }

    @Test
    void fp32ExportGivesTheGoldenLogitsAndItsKvCacheContinuesExactly() {
        loadGolden();
        Path out = tmp.resolve("f32");
        LlamaOnnxExport.export(SharedData.tinyLlama(), out, false, m -> { });
        OnnxModel m = OnnxReader.read(out.resolve("model.onnx"));
        assertEquals(42, m.graph().nodes().stream().filter(n -> n.opType().equals("MatMul") && n.name().endsWith("_proj/MatMul")).count());
        LlamaConfig c = LlamaConfig.fromJson(out);
        try (OrtRunner ort = OrtRunner.of(out.resolve("model.onnx"), 2)) {
            assertEquals("input_ids", ort.inputNames().getFirst());
            float[] full = ort.run(feeds(c, goldenIds, 0, 64, null), List.of("logits")).get("logits").floats();
            double max = 0;
            for (int i = 0; i < full.length; i++) max = Math.max(max, Math.abs(full[i] - goldenLogits[i]));
            assertTrue(max <= TOLERANCE, "max |Δlogit| vs golden = " + max);
            // 40 tokens, then the last 24 with the cache: the same logits as the full pass (same kernels: 1e-4)
            List<String> outs = new java.util.ArrayList<>(ort.outputNames());
            Map<String, OnnxTensor> first = ort.run(feeds(c, goldenIds, 0, 40, null), outs);
            assertEquals(40, first.get("present.0.key").dims()[2]);
            float[] rest = ort.run(feeds(c, goldenIds, 40, 64, first), List.of("logits")).get("logits").floats();
            int v = c.vocabSize();
            for (int i = 0; i < rest.length; i++) assertEquals(full[40 * v + i], rest[i], 1e-4, "cached logit " + i);
        }
    }

    @Test
    void rtnCheckpointExportsAsMatMulNBitsAndMatchesOurRuntime() {
        loadGolden();
        Path ckpt = tmp.resolve("rtn");
        CliRun q = CliRun.run("quantize", SharedData.tinyLlama().toString(), "-o", ckpt.toString(), "--method", "rtn",
                "--bits", "4", "--group-size", "64", "-q");
        assertEquals(0, q.code(), q.err());
        Path out = tmp.resolve("rtn-onnx");
        LlamaOnnxExport.Report r = LlamaOnnxExport.export(ckpt, out, false, m -> { });
        assertEquals(42, r.matMulNBits());
        assertEquals(0, r.matMul());
        LlamaConfig c = LlamaConfig.fromJson(out);
        float[] ours;
        try (LlamaRunner runner = LlamaRunner.open(ckpt, 2)) {
            NDArray h = runner.embed(new int[][]{goldenIds});
            for (int l = 0; l < runner.config().numLayers(); l++) {
                NDArray next = runner.runLayer(l, h, LinearHook.NONE);
                h.close();
                h = next;
            }
            ours = runner.finalLogits(h).toFloatArray();
        }
        try (OrtRunner ort = OrtRunner.of(out.resolve("model.onnx"), 2)) {
            float[] got = ort.run(feeds(c, goldenIds, 0, 64, null), List.of("logits")).get("logits").floats();
            double max = 0;
            for (int i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - ours[i]));
            // the same dequantized weights (scale·(q − z) in f32) on both sides: the fp32 tolerance applies
            assertTrue(max <= TOLERANCE, "max |Δlogit| ORT MatMulNBits vs our runtime = " + max);
        }
    }
}
