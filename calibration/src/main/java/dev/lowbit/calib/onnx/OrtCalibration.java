package dev.lowbit.calib.onnx;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxGraph;
import dev.lowbit.io.onnx.OnnxModel;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.onnx.OnnxTestData;
import dev.lowbit.io.onnx.OnnxValueInfo;
import dev.lowbit.ptq.observe.ActivationObserver;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Calibration on ONNX Runtime, as ORT's own tools do it: the tensors to observe become extra graph outputs of a copy
 * of the model, the calibration samples run through ORT, and each observed tensor's values feed its observer
 * ({@link ActivationObserver}: the range calibrators for QDQ, the Hessian for GPTQ). A tensor that is a graph input
 * is observed from the feeds directly. Observers get each sample's tensor as rows × last dimension.
 */
public final class OrtCalibration {
    private OrtCalibration() {
    }

    /** Runs {@code samples} through {@code model} with {@code observed} tensors exposed; returns the sample count. */
    public static int run(OnnxModel model, String source, List<OnnxTestData.Sample> samples,
                          Map<String, ? extends ActivationObserver> observed, int threads) {
        OnnxGraph g = model.graph();
        List<String> feedNames = g.feedInputs().stream().map(OnnxValueInfo::name).toList();
        List<OnnxValueInfo> outputs = new ArrayList<>(g.outputs());
        List<String> exposed = new ArrayList<>();
        for (String name : observed.keySet()) {
            if (feedNames.contains(name)) continue;
            if (outputs.stream().noneMatch(o -> o.name().equals(name))) outputs.add(OnnxValueInfo.floatTensor(name));
            exposed.add(name);
        }
        OnnxModel augmented = model.withGraph(g.withOutputs(outputs));
        try (OrtRunner ort = OrtRunner.of(augmented, source + " (calibration copy)", threads)) {
            for (OnnxTestData.Sample s : samples) {
                Map<String, OnnxTensor> feeds = OnnxFeeds.of(ort, s);
                Map<String, OnnxTensor> values = new LinkedHashMap<>(ort.run(feeds, exposed));
                for (String name : observed.keySet()) if (feeds.containsKey(name)) values.put(name, feeds.get(name));
                for (Map.Entry<String, ? extends ActivationObserver> e : observed.entrySet()) {
                    OnnxTensor t = values.get(e.getKey());
                    if (t.dataType() != OnnxDataType.FLOAT) {
                        throw new BadInputException(source, "tensor '" + e.getKey() + "' is " + t.dataType() + ", only FLOAT activations are quantized");
                    }
                    long[] d = t.dims();
                    int cols = d.length == 0 ? 1 : (int) d[d.length - 1];
                    float[] x = t.floats();
                    try {
                        e.getValue().add(x, cols == 0 ? 0 : x.length / cols, cols);
                    } catch (IllegalArgumentException ex) {
                        throw new BadInputException(s.label(), "tensor '" + e.getKey() + "': " + ex.getMessage());
                    }
                }
            }
        }
        return samples.size();
    }

    /** Runs {@code model} on every sample and returns its outputs per sample (fp32 vs quantized comparisons). */
    public static List<Map<String, OnnxTensor>> outputs(OnnxModel model, String source, List<OnnxTestData.Sample> samples, int threads) {
        try (OrtRunner ort = OrtRunner.of(model, source, threads)) {
            return samples.stream().map(s -> ort.run(OnnxFeeds.of(ort, s), List.of())).toList();
        }
    }
}
