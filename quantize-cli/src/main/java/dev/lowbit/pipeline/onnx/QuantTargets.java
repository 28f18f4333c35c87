package dev.lowbit.pipeline.onnx;

import dev.lowbit.io.onnx.OnnxAttribute;
import dev.lowbit.io.onnx.OnnxGraph;
import dev.lowbit.io.onnx.OnnxNode;
import dev.lowbit.io.onnx.OnnxTensor;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The ops lowbit quantizes in an ONNX graph and where their weights are: {@code Conv} (W = input 1, output channels on
 * axis 0), {@code MatMul} with a constant 2-D B (K × N: channels on axis 1), {@code Gemm} and ORT's contrib
 * {@code FusedGemm} (B = input 1; channels on axis 1, or 0 when {@code transB = 1}). Activations are the non-constant
 * inputs 0 (and a non-constant MatMul B).
 */
final class QuantTargets {
    /** A weight input: node index, input slot, the initializer and its output-channel axis. */
    record Weight(int node, int slot, OnnxTensor tensor, int channelAxis, int reductionAxis) {
    }

    final List<Weight> weights = new ArrayList<>();
    final Set<String> activations = new LinkedHashSet<>();

    static QuantTargets of(OnnxGraph g) {
        QuantTargets t = new QuantTargets();
        Map<String, OnnxTensor> init = g.initializerMap();
        List<OnnxNode> nodes = g.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            OnnxNode n = nodes.get(i);
            String op = n.opType();
            boolean contrib = n.domain().equals("com.microsoft");
            if (!(n.isDefaultDomain() && (op.equals("Conv") || op.equals("MatMul") || op.equals("Gemm"))) && !(contrib && op.equals("FusedGemm"))) continue;
            if (n.inputs().size() < 2) continue;
            String a = n.inputs().get(0), b = n.inputs().get(1);
            if (!init.containsKey(a)) t.activations.add(a);
            OnnxTensor w = init.get(b);
            if (w == null) {
                if (op.equals("MatMul")) t.activations.add(b);
                continue;
            }
            if (w.dataType() != dev.lowbit.io.onnx.OnnxDataType.FLOAT) continue;
            long[] d = w.dims();
            switch (op) {
                case "Conv" -> t.weights.add(new Weight(i, 1, w, 0, 1));
                case "MatMul" -> {
                    if (d.length == 2) t.weights.add(new Weight(i, 1, w, 1, 0));
                }
                default -> {
                    boolean transB = n.attribute("transB").map(OnnxAttribute::i).orElse(0L) != 0;
                    if (d.length == 2) t.weights.add(new Weight(i, 1, w, transB ? 0 : 1, transB ? 1 : 0));
                }
            }
        }
        return t;
    }
}
