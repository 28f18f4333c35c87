package dev.lowbit.pipeline.onnx;

import dev.lowbit.io.onnx.OnnxAttribute;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxGraph;
import dev.lowbit.io.onnx.OnnxNode;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.ptq.onnx.BlockedSymmetric;
import dev.lowbit.ptq.onnx.PerChannelInt8;
import dev.lowbit.ptq.onnx.QdqParams;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Static QDQ int8, the layout ORT's {@code quantize_static(quant_format=QDQ, per_channel=True)} writes: each
 * quantized activation A gets {@code QuantizeLinear(A, A_scale, A_zero_point) → A_quantized → DequantizeLinear →
 * A_dequantized}, read by the quantized ops in place of A (other readers keep A); each weight W is stored as int8
 * {@code W_quantized} with per-channel {@code W_scale} / {@code W_zero_point} and one {@code DequantizeLinear(axis)}.
 * A Conv / Gemm bias becomes int32 with scale s_x·s_w per channel (ORT's default); with blocked weights it stays f32.
 */
final class QdqRewrite {
    private QdqRewrite() {
    }

    static OnnxGraph apply(OnnxGraph g, QuantTargets targets, Map<String, QdqParams> activations) {
        return apply(g, targets, activations, 8, -1);
    }

    /**
     * With {@code block > 0}, weights take the opset-21 blocked form instead: symmetric int8 or int4 ({@code
     * weightBits}) in blocks of {@code block} along the reduction axis (Conv: input channels; MatMul / Gemm: K), one
     * {@code DequantizeLinear(axis, block_size)} without zero point (0).
     */
    static OnnxGraph apply(OnnxGraph g, QuantTargets targets, Map<String, QdqParams> activations, int weightBits, int block) {
        List<OnnxNode> nodes = new ArrayList<>(g.nodes());
        List<OnnxTensor> inits = new ArrayList<>(g.initializers());
        Map<Integer, Map<Integer, String>> rename = new HashMap<>(); // node → slot → new input
        Map<Integer, List<OnnxNode>> before = new LinkedHashMap<>(); // nodes inserted before node i
        for (QuantTargets.Weight w : targets.weights) {
            String name = w.tensor().name();
            if (block > 0) {
                String qn = name + "_quantized", sn = name + "_scale", dn = name + "_DequantizeLinear_Output";
                if (inits.stream().noneMatch(t -> t.name().equals(qn))) {
                    BlockedSymmetric q = BlockedSymmetric.quantize(w.tensor().floats(), w.tensor().dims(), w.reductionAxis(), block, weightBits);
                    inits.add(weightBits == 8 ? OnnxTensor.ofBytes(qn, OnnxDataType.INT8, w.tensor().dims(), q.codes())
                            : OnnxTensor.ofBytes(qn, OnnxDataType.INT4, w.tensor().dims(), q.packedInt4()));
                    inits.add(OnnxTensor.ofFloats(sn, q.scaleDims(), q.scales()));
                    before.computeIfAbsent(w.node(), k -> new ArrayList<>()).add(new OnnxNode(name + "_DequantizeLinear", "DequantizeLinear", "",
                            List.of(qn, sn), List.of(dn), List.of(OnnxAttribute.ofInt("axis", w.reductionAxis()), OnnxAttribute.ofInt("block_size", block))));
                }
                rename.computeIfAbsent(w.node(), k -> new HashMap<>()).put(w.slot(), dn);
                continue;
            }
            PerChannelInt8 q = PerChannelInt8.quantize(w.tensor().floats(), w.tensor().dims(), w.channelAxis());
            long channels = q.scales().length;
            String qn = name + "_quantized", sn = name + "_scale", zn = name + "_zero_point", dn = name + "_DequantizeLinear_Output";
            if (inits.stream().noneMatch(t -> t.name().equals(qn))) {
                inits.add(OnnxTensor.ofBytes(qn, OnnxDataType.INT8, w.tensor().dims(), q.codes()));
                inits.add(OnnxTensor.ofFloats(sn, new long[]{channels}, q.scales()));
                inits.add(OnnxTensor.ofBytes(zn, OnnxDataType.INT8, new long[]{channels}, new byte[(int) channels]));
                before.computeIfAbsent(w.node(), k -> new ArrayList<>()).add(new OnnxNode(name + "_DequantizeLinear", "DequantizeLinear", "",
                        List.of(qn, sn, zn), List.of(dn), List.of(OnnxAttribute.ofInt("axis", w.channelAxis()))));
            }
            rename.computeIfAbsent(w.node(), k -> new HashMap<>()).put(w.slot(), dn);
            bias(g, w, q.scales(), activations, inits, before, rename);
        }
        // activations: one Q/DQ pair per tensor, before its first quantized reader
        Set<String> placed = new HashSet<>();
        for (int i = 0; i < nodes.size(); i++) {
            OnnxNode n = nodes.get(i);
            for (int slot = 0; slot < n.inputs().size(); slot++) {
                String a = n.inputs().get(slot);
                QdqParams p = activations.get(a);
                if (p == null || !isQuantizedRead(targets, i, slot, n)) continue;
                String sn = a + "_scale", zn = a + "_zero_point", qn = a + "_QuantizeLinear_Output", dn = a + "_DequantizeLinear_Output";
                if (placed.add(a)) {
                    inits.add(OnnxTensor.ofFloats(sn, new long[0], new float[]{p.scale()}));
                    inits.add(OnnxTensor.ofBytes(zn, OnnxDataType.INT8, new long[0], new byte[]{(byte) p.zeroPoint()}));
                    List<OnnxNode> pre = before.computeIfAbsent(i, k -> new ArrayList<>());
                    pre.add(0, new OnnxNode(a + "_DequantizeLinear", "DequantizeLinear", "", List.of(qn, sn, zn), List.of(dn), List.of()));
                    pre.add(0, new OnnxNode(a + "_QuantizeLinear", "QuantizeLinear", "", List.of(a, sn, zn), List.of(qn), List.of()));
                }
                rename.computeIfAbsent(i, k -> new HashMap<>()).put(slot, dn);
            }
        }
        List<OnnxNode> out = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            out.addAll(before.getOrDefault(i, List.of()));
            OnnxNode n = nodes.get(i);
            Map<Integer, String> r = rename.get(i);
            if (r == null) {
                out.add(n);
                continue;
            }
            List<String> in = new ArrayList<>(n.inputs());
            r.forEach(in::set);
            out.add(new OnnxNode(n.name(), n.opType(), n.domain(), in, n.outputs(), n.attributes(), n.docString()));
        }
        // float weights that nothing reads any more are dropped
        Set<String> read = new HashSet<>();
        for (OnnxNode n : out) read.addAll(n.inputs());
        g.outputs().forEach(o -> read.add(o.name()));
        inits.removeIf(t -> !read.contains(t.name()));
        return OnnxGraphs.withNodes(g, out, inits, read);
    }

    /**
     * The bias of a Conv / Gemm / FusedGemm whose input and per-channel weight are both quantized, as ORT stores it:
     * int32 codes round_half_even(b / (s_x · s_w[c])) with scale s_x · s_w[c] per channel, zero point 0, one
     * DequantizeLinear(axis 0). A bias whose codes would not fit int32 stays f32.
     */
    private static void bias(OnnxGraph g, QuantTargets.Weight w, float[] weightScales, Map<String, QdqParams> activations,
                             List<OnnxTensor> inits, Map<Integer, List<OnnxNode>> before, Map<Integer, Map<Integer, String>> rename) {
        OnnxNode n = g.nodes().get(w.node());
        if (n.inputs().size() < 3 || n.inputs().get(2).isEmpty()) return;
        QdqParams x = activations.get(n.inputs().get(0));
        OnnxTensor b = g.initializerMap().get(n.inputs().get(2));
        if (x == null || b == null || b.dataType() != OnnxDataType.FLOAT || b.dims().length != 1 || b.dims()[0] != weightScales.length) return;
        float[] v = b.floats();
        float[] scales = new float[v.length];
        java.nio.ByteBuffer codes = java.nio.ByteBuffer.allocate(v.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int c = 0; c < v.length; c++) {
            scales[c] = x.scale() * weightScales[c];
            double q = Math.rint(v[c] / scales[c]);
            if (!(Math.abs(q) <= Integer.MAX_VALUE)) return;
            codes.putInt((int) q);
        }
        String name = b.name() + "_" + n.name() + "_quantized", sn = name + "_scale", dn = name + "_DequantizeLinear_Output";
        inits.add(OnnxTensor.ofBytes(name, OnnxDataType.INT32, b.dims(), codes.array()));
        inits.add(OnnxTensor.ofFloats(sn, b.dims(), scales));
        before.computeIfAbsent(w.node(), k -> new ArrayList<>()).add(new OnnxNode(name + "_DequantizeLinear", "DequantizeLinear", "",
                List.of(name, sn), List.of(dn), List.of(OnnxAttribute.ofInt("axis", 0))));
        rename.computeIfAbsent(w.node(), k -> new HashMap<>()).put(2, dn);
    }

    private static boolean isQuantizedRead(QuantTargets t, int node, int slot, OnnxNode n) {
        if (slot == 0) return true;
        return slot == 1 && n.opType().equals("MatMul") && t.weights.stream().noneMatch(w -> w.node() == node);
    }
}
