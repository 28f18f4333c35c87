package dev.lowbit.io.onnx;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** {@code GraphProto}: nodes, initializers (constant tensors), inputs, outputs and value infos. */
public record OnnxGraph(String name, List<OnnxNode> nodes, List<OnnxTensor> initializers, List<OnnxValueInfo> inputs,
                        List<OnnxValueInfo> outputs, List<OnnxValueInfo> valueInfo, String docString) {
    public OnnxGraph {
        nodes = List.copyOf(nodes);
        initializers = List.copyOf(initializers);
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        valueInfo = List.copyOf(valueInfo);
        if (name == null) name = "";
        if (docString == null) docString = "";
    }

    /** Initializers by name. */
    public Map<String, OnnxTensor> initializerMap() {
        Map<String, OnnxTensor> m = new HashMap<>();
        for (OnnxTensor t : initializers) m.put(t.name(), t);
        return m;
    }

    /** Graph inputs that are not initializers (IR < 4 lists initializers among the inputs too). */
    public List<OnnxValueInfo> feedInputs() {
        Map<String, OnnxTensor> init = initializerMap();
        return inputs.stream().filter(v -> !init.containsKey(v.name())).toList();
    }

    public OnnxGraph withNodes(List<OnnxNode> newNodes) {
        return new OnnxGraph(name, newNodes, initializers, inputs, outputs, valueInfo, docString);
    }

    public OnnxGraph withInitializers(List<OnnxTensor> newInitializers) {
        return new OnnxGraph(name, nodes, newInitializers, inputs, outputs, valueInfo, docString);
    }

    public OnnxGraph withInputs(List<OnnxValueInfo> newInputs) {
        return new OnnxGraph(name, nodes, initializers, newInputs, outputs, valueInfo, docString);
    }

    public OnnxGraph withOutputs(List<OnnxValueInfo> newOutputs) {
        return new OnnxGraph(name, nodes, initializers, inputs, newOutputs, valueInfo, docString);
    }
}
