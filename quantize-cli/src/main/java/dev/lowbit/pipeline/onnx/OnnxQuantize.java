package dev.lowbit.pipeline.onnx;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.calib.onnx.OnnxFeeds;
import dev.lowbit.calib.onnx.OrtCalibration;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.onnx.OnnxConstantFold;
import dev.lowbit.io.onnx.OnnxGraph;
import dev.lowbit.io.onnx.OnnxModel;
import dev.lowbit.io.onnx.OnnxOpsetUpgrade;
import dev.lowbit.io.onnx.OnnxReader;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.onnx.OnnxTestData;
import dev.lowbit.io.onnx.OnnxValueInfo;
import dev.lowbit.io.onnx.OnnxWriter;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.observe.HessianObserver;
import dev.lowbit.ptq.onnx.BlockRtn;
import dev.lowbit.ptq.onnx.QdqParams;
import dev.lowbit.ptq.onnx.RangeCalibrator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code lowbit quantize model.onnx --format onnx}: read and check the model, raise it to opset 21 (the blocked QDQ
 * opset) where its ops allow, calibrate on ONNX Runtime with the given inputs, rewrite the graph (static QDQ int8, or
 * weight-only MatMulNBits from RTN or GPTQ), then run the fp32 and the quantized model on the same inputs and report
 * whether the predicted classes agree and the largest output difference; the output is written atomically
 * ({@code X.onnx}: one file with a sidecar manifest; any other name: a directory with {@code model.onnx}, external
 * data for initializers of 1 KiB or more — ORT's default threshold — and {@code lowbit-manifest.json}).
 */
public final class OnnxQuantize {
    public static final String QDQ_INT8 = "qdq-int8", MATMULNBITS = "matmulnbits";
    static final long TARGET_OPSET = 21;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What to do. {@code method}: rtn | gptq (MatMulNBits); {@code calibrator}: minmax | percentile | entropy (QDQ). */
    public record Options(String scheme, String calibrator, Path calibInputs, int bits, int block, boolean symmetric,
                          String method, double damp, int threads) {
    }

    /** Per sample: classes of fp32 and quantized outputs (argmax of the first output's last axis) and max |Δ|. */
    public record SampleResult(String sample, int[] fp32Classes, int[] quantClasses, double maxAbsDelta, double maxAbsFp32) {
    }

    public record Report(String output, String scheme, String detail, int quantizedOps, int samples,
                         List<SampleResult> results, long bytes, double seconds) {
        public boolean classesAgree() {
            return results.stream().allMatch(r -> java.util.Arrays.equals(r.fp32Classes, r.quantClasses));
        }

        public double maxAbsDelta() {
            return results.stream().mapToDouble(SampleResult::maxAbsDelta).max().orElse(0);
        }

        public void print(java.io.PrintStream out) {
            out.printf("wrote %s (%s, %s): %d ops quantized, %d bytes, %.1f s%n", output, scheme, detail, quantizedOps, bytes, seconds);
            for (SampleResult r : results) {
                out.printf("  %-20s classes fp32 %s quantized %s  max|Δ| %.6g (max|y| fp32 %.6g)%n", r.sample, java.util.Arrays.toString(r.fp32Classes),
                        java.util.Arrays.toString(r.quantClasses), r.maxAbsDelta, r.maxAbsFp32);
            }
            out.printf("predicted classes %s on %d samples; max |Δ| of the outputs %.6g%n", classesAgree() ? "equal fp32's" : "DIFFER from fp32's", samples, maxAbsDelta());
        }

        public String toJson() {
            ObjectNode o = JSON.createObjectNode();
            o.put("output", output).put("scheme", scheme).put("detail", detail).put("quantized_ops", quantizedOps)
                    .put("samples", samples).put("classes_equal_fp32", classesAgree()).put("max_abs_delta", maxAbsDelta())
                    .put("bytes", bytes).put("seconds", seconds);
            var arr = o.putArray("per_sample");
            for (SampleResult r : results) {
                ObjectNode s = arr.addObject().put("sample", r.sample).put("max_abs_delta", r.maxAbsDelta).put("max_abs_fp32", r.maxAbsFp32);
                var f = s.putArray("fp32_classes");
                for (int c : r.fp32Classes) f.add(c);
                var q = s.putArray("quantized_classes");
                for (int c : r.quantClasses) q.add(c);
            }
            return o.toString();
        }
    }

    private OnnxQuantize() {
    }

    public static boolean isOnnx(Path model) {
        return model.getFileName() != null && model.getFileName().toString().endsWith(".onnx") && !Files.isDirectory(model);
    }

    public static Report run(Path modelPath, Path output, Options o, boolean force, Consumer<String> progress) {
        long t0 = System.nanoTime();
        OnnxModel fp32 = OnnxReader.read(modelPath);
        OnnxModel model = OnnxOpsetUpgrade.upgrade(fp32, TARGET_OPSET, modelPath.toString());
        if (model != fp32) progress.accept("opset " + fp32.opset("") + " → " + TARGET_OPSET);
        model = OnnxConstantFold.reshapes(model);
        OnnxGraph g = model.graph();
        List<String> inputNames = g.feedInputs().stream().map(OnnxValueInfo::name).toList();
        List<String> outputNames = g.outputs().stream().map(OnnxValueInfo::name).toList();
        List<OnnxTestData.Sample> samples = OnnxTestData.load(o.calibInputs(), inputNames, outputNames);
        QuantTargets targets = QuantTargets.of(g);
        OnnxGraph quantized;
        String detail;
        int ops;
        if (o.scheme().equals(QDQ_INT8)) {
            Map<String, RangeCalibrator> observers = new LinkedHashMap<>();
            for (String a : targets.activations) observers.put(a, RangeCalibrator.of(o.calibrator()));
            if (observers.isEmpty() && targets.weights.isEmpty()) throw new BadInputException(modelPath, "no Conv, MatMul or Gemm to quantize");
            OrtCalibration.run(model, modelPath.toString(), samples, observers, o.threads());
            Map<String, QdqParams> params = new LinkedHashMap<>();
            observers.forEach((name, c) -> {
                double[] r = c.range();
                params.put(name, QdqParams.int8(r[0], r[1], false));
            });
            progress.accept("calibrated " + params.size() + " activations on " + samples.size() + " samples (" + o.calibrator() + ")");
            quantized = QdqRewrite.apply(g, targets, params, o.bits(), o.block());
            ops = targets.weights.size();
            detail = (o.block() > 0 ? "weights int" + o.bits() + " in blocks of " + o.block() : "weights int8 per channel")
                    + ", activations int8 per tensor, " + o.calibrator();
        } else {
            List<QuantTargets.Weight> weights = MatMulNBitsRewrite.weights(targets, g);
            if (weights.isEmpty()) throw new BadInputException(modelPath, "no MatMul with a constant 2-D f32 weight: MatMulNBits does not apply");
            Map<String, QuantizedTensor> q = new LinkedHashMap<>();
            Map<String, HessianObserver> hessians = new LinkedHashMap<>();
            if (o.method().equals("gptq")) {
                for (QuantTargets.Weight w : weights) {
                    hessians.put(g.nodes().get(w.node()).inputs().getFirst(), new HessianObserver((int) w.tensor().dims()[0]));
                }
                OrtCalibration.run(model, modelPath.toString(), samples, hessians, o.threads());
            }
            for (QuantTargets.Weight w : weights) {
                String b = w.tensor().name();
                if (q.containsKey(b)) continue;
                int k = (int) w.tensor().dims()[0], n = (int) w.tensor().dims()[1];
                float[] wt = MatMulNBitsRewrite.transpose(w.tensor());
                if (o.method().equals("gptq")) {
                    if (k % o.block() != 0) {
                        throw new BadInputException(modelPath, "MatMul weight '" + b + "': K = " + k + " is not a multiple of --group-size "
                                + o.block() + "; GPTQ needs whole blocks (--method rtn pads the last one)");
                    }
                    HessianObserver h = hessians.get(g.nodes().get(w.node()).inputs().getFirst());
                    GptqConfig cfg = GptqConfig.of(new QuantScheme(o.bits(), o.block(), o.symmetric())).withPercDamp(o.damp());
                    q.put(b, Gptq.quantize(b, wt, n, k, h.hessian(), cfg).quantized());
                } else {
                    q.put(b, BlockRtn.quantize(b, wt, n, k, o.bits(), o.block(), o.symmetric()));
                }
            }
            quantized = MatMulNBitsRewrite.apply(g, weights, q, o.bits(), o.block());
            ops = weights.size();
            detail = o.method() + " " + o.bits() + "-bit, block " + o.block() + (o.symmetric() ? ", symmetric" : ", zero points");
        }
        OnnxModel out = model.withGraph(quantized);
        if (o.scheme().equals(MATMULNBITS) && out.opset("com.microsoft") < 1) out = out.withOpset("com.microsoft", 1);
        OnnxModel result = OnnxReader.parse(OnnxWriter.toBytes(out), "lowbit's output"); // what ORT will load, re-checked
        List<Map<String, OnnxTensor>> ref = OrtCalibration.outputs(model, modelPath.toString(), samples, o.threads());
        List<Map<String, OnnxTensor>> got = OrtCalibration.outputs(result, output.toString(), samples, o.threads());
        List<SampleResult> results = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) {
            OnnxTensor a = ref.get(i).values().iterator().next(), b = got.get(i).values().iterator().next();
            float[] x = a.floats(), y = b.floats();
            double d = 0, m = 0;
            for (int j = 0; j < x.length; j++) {
                d = Math.max(d, Math.abs(x[j] - y[j]));
                m = Math.max(m, Math.abs(x[j]));
            }
            results.add(new SampleResult(samples.get(i).label(), OnnxFeeds.argmax(a), OnnxFeeds.argmax(b), d, m));
        }
        long bytes = write(result, modelPath, o, output, force);
        return new Report(output.toString(), o.scheme(), detail, ops, samples.size(), results, bytes, (System.nanoTime() - t0) / 1e9);
    }

    private static long write(OnnxModel model, Path modelPath, Options o, Path output, boolean force) {
        String recipe = recipeJson(o);
        SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("MODEL", modelPath).add("--calib-inputs", o.calibInputs());
        boolean file = output.getFileName().toString().endsWith(".onnx");
        try (SafeOutput out = file ? SafeOutput.file(output, force, inputs) : SafeOutput.directory(output, force, inputs)) {
            try {
                Manifest m = new Manifest(recipe, 0).input("model", List.of(modelPath)).input("calibration", calibFiles(o.calibInputs()));
                long bytes;
                if (file) {
                    byte[] b = OnnxWriter.toBytes(model);
                    Files.write(out.path(), b);
                    bytes = b.length;
                    out.commit(m);
                } else {
                    Path dir = out.path();
                    bytes = OnnxWriter.write(model, dir.resolve("model.onnx"), "model.onnx.data", 1024);
                    Files.writeString(dir.resolve("recipe.json"), recipe);
                    List<String> names = new ArrayList<>(List.of("model.onnx", "recipe.json"));
                    if (Files.exists(dir.resolve("model.onnx.data"))) names.add("model.onnx.data");
                    m.files(names).write(dir.resolve(Manifest.FILE_NAME));
                    out.commit();
                }
                return bytes;
            } catch (IOException | RuntimeException e) {
                throw out.failure(e);
            }
        }
    }

    private static List<Path> calibFiles(Path p) {
        if (Files.isRegularFile(p)) return List.of(p);
        try (var s = Files.walk(p, 2)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new BadInputException(p, "cannot list: " + e.getMessage());
        }
    }

    static String recipeJson(Options o) {
        ObjectNode r = JSON.createObjectNode();
        r.put("format", "onnx").put("scheme", o.scheme());
        if (o.scheme().equals(QDQ_INT8)) {
            r.put("calibrator", o.calibrator()).put("weight_bits", o.bits());
            if (o.block() > 0) r.put("weight_block_size", o.block());
        }
        else r.put("method", o.method()).put("bits", o.bits()).put("block_size", o.block()).put("symmetric", o.symmetric());
        if (o.method() != null && o.method().equals("gptq")) r.put("damp_percent", o.damp());
        r.put("opset", TARGET_OPSET);
        return r.toPrettyString() + "\n";
    }
}
