package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.calib.onnx.OnnxFeeds;
import dev.lowbit.calib.onnx.OrtRunner;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxModel;
import dev.lowbit.io.onnx.OnnxNode;
import dev.lowbit.io.onnx.OnnxReader;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.onnx.OnnxTestData;
import dev.lowbit.pipeline.output.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code lowbit quantize MODEL.onnx --format onnx}: the acceptance on the three shared models (QDQ int8 and
 * MatMulNBits files that ONNX Runtime loads from disk, predicting fp32's classes on the shipped inputs), flags that do
 * not apply refused, hostile files refused with one line.
 */
class OnnxQuantizeCliTest {
    static final Path MNIST_OLD = SharedData.data("onnx/mnist/model.onnx");
    static final Path MNIST_ORT = SharedData.data("onnx/ort/mnist.onnx");
    static final Path MNIST_DATA = SharedData.data("onnx/mnist");
    static final Path VOICE = SharedData.data("onnx/ort/test_voice_commands/model.onnx");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} {2}")
    @CsvSource({"mnist-opset1, MNIST_OLD, minmax", "mnist-opset8, MNIST_ORT, percentile", "voice, VOICE, entropy", "voice, VOICE, minmax"})
    void qdqInt8PredictsFp32sClasses(String label, String which, String calibrator) throws Exception {
        Path model = which.equals("VOICE") ? VOICE : which.equals("MNIST_OLD") ? MNIST_OLD : MNIST_ORT;
        Path data = which.equals("VOICE") ? VOICE.getParent() : MNIST_DATA;
        Path out = tmp.resolve(label + ".onnx");
        CliRun r = CliRun.run("quantize", model.toString(), "-o", out.toString(), "--format", "onnx", "--scheme", "qdq-int8",
                "--calibrator", calibrator, "--calib-inputs", data.toString(), "--json", "-q");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertTrue(j.get("classes_equal_fp32").asBoolean(), r.out());
        for (JsonNode s : j.get("per_sample")) {
            // int8 weights and activations: measured ≤ 0.8 % of the largest logit on MNIST, ≤ 1e-4 of voice's
            // probabilities; 2 % flags a broken scale or zero point (those give errors of the order of the output)
            assertTrue(s.get("max_abs_delta").asDouble() <= 0.02 * s.get("max_abs_fp32").asDouble(), r.out());
        }
        // the file on disk: QDQ nodes, int8 weights, opset 21; ORT loads it and predicts the same classes
        OnnxModel q = OnnxReader.read(out);
        assertEquals(21, q.opset(""));
        assertTrue(q.graph().nodes().stream().anyMatch(n -> n.opType().equals("QuantizeLinear")));
        assertTrue(q.graph().initializers().stream().anyMatch(t -> t.dataType() == OnnxDataType.INT8 && t.dims().length >= 2));
        assertTrue(Files.exists(Path.of(out + ".lowbit-manifest.json")));
        // voice-commands' Gemm / FusedGemm biases become int32 with scale s_x·s_w (MNIST has none: its biases are Adds)
        long int32 = q.graph().initializers().stream().filter(t -> t.dataType() == OnnxDataType.INT32).count();
        assertEquals(which.equals("VOICE") ? 2 : 0, int32);
        // ORT cannot run the opset-1 original (no Add-1 kernel): its reference is lowbit's opset-21 upgrade of it
        OrtRunner reference = which.equals("MNIST_OLD")
                ? OrtRunner.of(dev.lowbit.io.onnx.OnnxOpsetUpgrade.upgrade(OnnxReader.read(model), 21, "old"), "upgraded", 1)
                : OrtRunner.of(model, 1);
        try (OrtRunner quant = OrtRunner.of(out, 1); OrtRunner fp32 = reference) {
            for (OnnxTestData.Sample s : OnnxTestData.load(data, fp32.inputNames(), fp32.outputNames())) {
                OnnxTensor a = fp32.run(OnnxFeeds.of(fp32, s), List.of()).values().iterator().next();
                OnnxTensor b = quant.run(OnnxFeeds.of(quant, s), List.of()).values().iterator().next();
                assertEquals(OnnxFeeds.argmax(a)[0], OnnxFeeds.argmax(b)[0], s.label());
            }
        }
    }

    @Test
    void blockedInt4WeightsOnMnist() throws Exception {
        Path out = tmp.resolve("blocked.onnx");
        CliRun r = CliRun.run("quantize", MNIST_ORT.toString(), "-o", out.toString(), "--format", "onnx", "--scheme", "qdq-int8",
                "--bits", "4", "--group-size", "16", "--calib-inputs", MNIST_DATA.toString(), "--json", "-q");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertTrue(j.get("classes_equal_fp32").asBoolean(), r.out());
        OnnxModel q = OnnxReader.read(out);
        assertEquals(3, q.graph().initializers().stream().filter(t -> t.dataType() == OnnxDataType.INT4).count());
        assertTrue(q.graph().nodes().stream().anyMatch(n -> n.attribute("block_size").map(a -> a.i() == 16).orElse(false)));
    }

    @Test
    void matMulNBitsOnMnistRtnAndGptqIntoADirectoryWithExternalData() throws Exception {
        for (String method : List.of("rtn", "gptq")) {
            Path out = tmp.resolve("mnist-nbits-" + method);
            CliRun r = CliRun.run("quantize", MNIST_ORT.toString(), "-o", out.toString(), "--format", "onnx", "--scheme", "matmulnbits",
                    "--method", method, "--bits", "4", "--group-size", "32", "--calib-inputs", MNIST_DATA.toString(), "--json", "-q");
            assertEquals(0, r.code(), r.err());
            JsonNode j = JSON.readTree(r.out());
            assertTrue(j.get("classes_equal_fp32").asBoolean(), r.out());
            OnnxModel q = OnnxReader.read(out.resolve("model.onnx"));
            List<OnnxNode> nbits = q.graph().nodes().stream().filter(n -> n.opType().equals("MatMulNBits")).toList();
            assertEquals(1, nbits.size());
            assertEquals("com.microsoft", nbits.getFirst().domain());
            assertEquals(1, q.opset("com.microsoft"));
            assertTrue(Files.size(out.resolve("model.onnx.data")) > 0, "weights of 1 KiB or more are external");
            assertTrue(Files.exists(out.resolve("lowbit-manifest.json")));
            try (OrtRunner ort = OrtRunner.of(out.resolve("model.onnx"), 1)) {
                assertEquals(List.of("Input3"), ort.inputNames());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "--scheme qdq-int8 --calib-inputs D --bits 4              | --group-size",
        "--scheme qdq-int8 --calib-inputs D --bits 6 --group-size 32 | --bits",
        "--scheme qdq-int8 --calib-inputs D --group-size 24       | --group-size",
        "--scheme qdq-int8 --calib-inputs D --sym                 | --sym",
        "--scheme qdq-int8 --calib-inputs D --method gptq         | --method",
        "--scheme qdq-int8 --calib-inputs D --calib C             | --calib",
        "--scheme qdq-int8 --calib-inputs D --type Q4_0           | --type",
        "--scheme qdq-int8                                        | --calib-inputs",
        "--scheme qdq-int8 --calib-inputs D --calibrator kl       | --calibrator",
        "--scheme matmulnbits --calib-inputs D --calibrator minmax | --calibrator",
        "--scheme matmulnbits --calib-inputs D --damp 0.1         | --damp",
        "--scheme matmulnbits --calib-inputs D --bits 3           | --bits",
        "--scheme matmulnbits --calib-inputs D --group-size 48    | --group-size",
        "--scheme matmulnbits --calib-inputs D --method awq       | --method",
        "--scheme fp8 --calib-inputs D                            | --scheme",
        "--calib-inputs D                                         | --scheme",
        "--scheme qdq-int8 --calib-inputs D --format gptq         | --format",
    })
    void flagsThatDoNotApplyAreRefused(String args, String flag) {
        Path out = tmp.resolve("o.onnx");
        List<String> argv = new ArrayList<>(List.of("quantize", MNIST_ORT.toString(), "-o", out.toString(), "-q"));
        for (String a : args.strip().split(" +")) {
            argv.add(a.equals("D") ? MNIST_DATA.toString() : a.equals("C") ? SharedData.data("calib_code.txt").toString() : a);
        }
        CliRun r = CliRun.run(argv.toArray(String[]::new));
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains(flag), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void onnxFlagsOnAHuggingFaceModelAreRefused() {
        CliRun r = CliRun.run("quantize", SharedData.tinyLlama().toString(), "-o", tmp.resolve("o").toString(), "--method", "rtn",
                "--calibrator", "minmax", "-q");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--calibrator"), r.err());
    }

    @Test
    void hostileOnnxIsExit2WithOneLineAndNothingWritten() throws Exception {
        byte[] full = Files.readAllBytes(MNIST_ORT);
        Path bad = tmp.resolve("truncated.onnx");
        Files.write(bad, java.util.Arrays.copyOf(full, full.length / 2));
        Path out = tmp.resolve("o.onnx");
        CliRun r = CliRun.run("quantize", bad.toString(), "-o", out.toString(), "--format", "onnx", "--scheme", "qdq-int8",
                "--calib-inputs", MNIST_DATA.toString(), "-q");
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("truncated.onnx") && r.err().contains("protobuf"), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
        assertFalse(Files.exists(out));
        // a model whose external data leaves its directory: refused, and the outside file is never read
        Path dir = Files.createDirectory(tmp.resolve("m"));
        Path outside = tmp.resolve("outside.bin");
        Files.write(outside, new byte[4096]);
        OnnxModel m = OnnxReader.read(MNIST_ORT);
        Path ext = Files.createDirectory(tmp.resolve("ext"));
        dev.lowbit.io.onnx.OnnxWriter.write(m, ext.resolve("model.onnx"), "w.bin", 0);
        byte[] b = Files.readAllBytes(ext.resolve("model.onnx"));
        // same length as "w.bin" so the protobuf lengths stay valid: "../o1" points outside the model's directory
        byte[] from = "w.bin".getBytes(), to = "../ou".getBytes();
        for (int i = 0; i + from.length <= b.length; i++) {
            if (java.util.Arrays.equals(b, i, i + from.length, from, 0, from.length)) System.arraycopy(to, 0, b, i, to.length);
        }
        Files.write(dir.resolve("model.onnx"), b);
        Files.copy(ext.resolve("w.bin"), tmp.resolve("ou"));
        CliRun e = CliRun.run("quantize", dir.resolve("model.onnx").toString(), "-o", tmp.resolve("e.onnx").toString(), "--format", "onnx",
                "--scheme", "qdq-int8", "--calib-inputs", MNIST_DATA.toString(), "-q");
        assertEquals(2, e.code(), e.err());
        assertEquals(1, e.err().strip().lines().count(), e.err());
        assertTrue(e.err().contains("'../ou'") && e.err().contains("model's directory"), e.err());
    }
}
