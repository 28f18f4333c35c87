package dev.lowbit.pipeline.onnx;

import dev.lowbit.io.onnx.MatMulNBitsPacking;
import dev.lowbit.io.onnx.OnnxAttribute;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxGraph;
import dev.lowbit.io.onnx.OnnxNode;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.quant.QuantizedTensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Weight-only {@code com.microsoft.MatMulNBits}: each {@code MatMul(A, B)} whose B is a constant f32 K × N matrix
 * becomes {@code MatMulNBits(A, B_Q<bits>, B_scales, B_zero_points)} with attributes K, N, bits, block_size and
 * accuracy_level 0 (the names ORT's quantizer gives them); the quantized weights come in as
 * {@link QuantizedTensor}s in Linear orientation (rows = N, cols = K), keyed by B's name.
 */
final class MatMulNBitsRewrite {
    private MatMulNBitsRewrite() {
    }

    /** The MatMul weights this rewrite applies to: node index → B. */
    static List<QuantTargets.Weight> weights(QuantTargets t, OnnxGraph g) {
        return t.weights.stream().filter(w -> g.nodes().get(w.node()).opType().equals("MatMul")).toList();
    }

    static OnnxGraph apply(OnnxGraph g, List<QuantTargets.Weight> weights, Map<String, QuantizedTensor> quantized, int bits, int block) {
        List<OnnxNode> nodes = new ArrayList<>(g.nodes());
        List<OnnxTensor> inits = new ArrayList<>(g.initializers());
        Set<String> packed = new HashSet<>();
        for (QuantTargets.Weight w : weights) {
            OnnxNode n = nodes.get(w.node());
            String b = w.tensor().name();
            long k = w.tensor().dims()[0], nOut = w.tensor().dims()[1];
            String qn = b + "_Q" + bits, sn = b + "_scales", zn = b + "_zero_points";
            if (packed.add(b)) {
                MatMulNBitsPacking p = MatMulNBitsPacking.pack(quantized.get(b), bits, block);
                inits.add(OnnxTensor.ofBytes(qn, OnnxDataType.UINT8, p.bDims(), p.b()));
                inits.add(OnnxTensor.ofFloats(sn, p.scaleDims(), p.scales()));
                inits.add(OnnxTensor.ofBytes(zn, OnnxDataType.UINT8, p.zeroDims(), p.zeroPoints()));
            }
            nodes.set(w.node(), new OnnxNode(n.name().isEmpty() ? "" : n.name() + "_Q" + bits, "MatMulNBits", "com.microsoft",
                    List.of(n.inputs().get(0), qn, sn, zn), n.outputs(),
                    List.of(OnnxAttribute.ofInt("K", k), OnnxAttribute.ofInt("N", nOut), OnnxAttribute.ofInt("bits", bits),
                            OnnxAttribute.ofInt("block_size", block), OnnxAttribute.ofInt("accuracy_level", 0)), n.docString()));
        }
        Set<String> read = new HashSet<>();
        for (OnnxNode n : nodes) read.addAll(n.inputs());
        g.outputs().forEach(o -> read.add(o.name()));
        inits.removeIf(t -> !read.contains(t.name()));
        return OnnxGraphs.withNodes(g, nodes, inits, read);
    }

    /** B (K × N, row-major) transposed to Linear orientation (N × K). */
    static float[] transpose(OnnxTensor b) {
        float[] w = b.floats();
        int k = (int) b.dims()[0], n = (int) b.dims()[1];
        float[] t = new float[w.length];
        for (int i = 0; i < k; i++) for (int j = 0; j < n; j++) t[j * k + i] = w[i * n + j];
        return t;
    }
}
