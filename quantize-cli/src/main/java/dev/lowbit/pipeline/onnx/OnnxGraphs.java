package dev.lowbit.pipeline.onnx;

import dev.lowbit.io.onnx.OnnxGraph;
import dev.lowbit.io.onnx.OnnxNode;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.onnx.OnnxValueInfo;
import java.util.List;
import java.util.Set;

final class OnnxGraphs {
    private OnnxGraphs() {
    }

    /**
     * {@code g} with new nodes and initializers; a graph input that named an original initializer (IR &lt; 4 lists
     * them) is kept only while something still reads it, so a replaced weight never turns into a required feed.
     */
    static OnnxGraph withNodes(OnnxGraph g, List<OnnxNode> nodes, List<OnnxTensor> inits, Set<String> read) {
        Set<String> original = g.initializerMap().keySet();
        List<OnnxValueInfo> inputs = g.inputs().stream().filter(v -> !original.contains(v.name()) || read.contains(v.name())).toList();
        return new OnnxGraph(g.name(), nodes, inits, inputs, g.outputs(), g.valueInfo(), g.docString());
    }
}
