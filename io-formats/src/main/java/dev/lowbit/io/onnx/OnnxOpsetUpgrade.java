package dev.lowbit.io.onnx;

import dev.lowbit.io.BadInputException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Raises a model's default-domain opset to a target (21: the first with blocked QDQ) where every op allows it, else
 * refuses with one line naming the op and its opset. The table lists, per op, the oldest opset from which the op
 * means the same at the target with its defaults, and three rewrites for what older opsets spell differently:
 * <ul>
 *   <li>{@code Constant} (any opset): its {@code value} becomes an initializer (the weights quantizers look for);</li>
 *   <li>{@code Reshape}-1 … 4: the {@code shape} attribute becomes an INT64 initializer input (Reshape-5);</li>
 *   <li>{@code Add/Sub/Mul/Div}-1 … 6 with {@code broadcast = 1}: a constant B is reshaped for NumPy broadcasting
 *       (legacy broadcasting aligns B at {@code axis}, NumPy at the last dimension: B's dims get trailing 1s; the rank
 *       of A comes from the graph input's shape through rank-preserving ops).</li>
 * </ul>
 * Contrib ops (other domains) are left alone.
 */
public final class OnnxOpsetUpgrade {
    /** Per op: the oldest default-domain opset whose semantics with default attributes equal opset 21's. */
    private static final Map<String, Integer> SAME_SINCE = Map.ofEntries(
            Map.entry("Conv", 1), Map.entry("ConvTranspose", 1), Map.entry("MaxPool", 1), Map.entry("AveragePool", 1),
            Map.entry("GlobalAveragePool", 1), Map.entry("GlobalMaxPool", 1), Map.entry("MatMul", 1),
            Map.entry("Relu", 6), Map.entry("Sigmoid", 6), Map.entry("Tanh", 6), Map.entry("LeakyRelu", 6),
            Map.entry("Add", 7), Map.entry("Sub", 7), Map.entry("Mul", 7), Map.entry("Div", 7), Map.entry("Pow", 7),
            Map.entry("Gemm", 7), Map.entry("Reshape", 5), Map.entry("Cast", 6), Map.entry("Gather", 1),
            Map.entry("Transpose", 1), Map.entry("Flatten", 1), Map.entry("Concat", 4), Map.entry("Identity", 1),
            Map.entry("Softmax", 13), Map.entry("LogSoftmax", 13), Map.entry("Shape", 1), Map.entry("Sqrt", 6),
            Map.entry("Exp", 6), Map.entry("Neg", 6), Map.entry("Erf", 9), Map.entry("Where", 9), Map.entry("Equal", 7),
            Map.entry("Less", 7), Map.entry("Greater", 7), Map.entry("Expand", 8), Map.entry("Range", 11),
            Map.entry("Slice", 10), Map.entry("Unsqueeze", 13), Map.entry("Squeeze", 13), Map.entry("ReduceMean", 18),
            Map.entry("ReduceMax", 18), Map.entry("ReduceMin", 18), Map.entry("ReduceSum", 13), Map.entry("ArgMax", 1),
            Map.entry("QuantizeLinear", 21), Map.entry("DequantizeLinear", 21), Map.entry("Sin", 7), Map.entry("Cos", 7),
            Map.entry("Constant", 1), Map.entry("Trilu", 14), Map.entry("Reciprocal", 6), Map.entry("Clip", 11),
            Map.entry("Split", 18), Map.entry("BatchNormalization", 15));
    private static final java.util.Set<String> CONSUMED_INPUTS_ONLY = java.util.Set.of(
            "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Sqrt", "Exp", "Neg", "Reciprocal");
    private static final java.util.Set<String> RANK_PRESERVING = java.util.Set.of(
            "Conv", "MaxPool", "AveragePool", "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Add", "Sub", "Mul", "Div", "Identity",
            "BatchNormalization");

    private OnnxOpsetUpgrade() {
    }

    /** {@code model} at default-domain opset {@code target} (unchanged when already there or above). */
    public static OnnxModel upgrade(OnnxModel model, long target, String source) {
        long from = model.opset("");
        if (from >= target) return model;
        OnnxGraph g = model.graph();
        Map<String, Integer> rank = new HashMap<>();
        for (OnnxValueInfo v : g.inputs()) if (v.dims() != null) rank.put(v.name(), v.dims().size());
        for (OnnxTensor t : g.initializers()) rank.put(t.name(), t.dims().length);
        Map<String, OnnxTensor> consts = new HashMap<>(g.initializerMap());
        List<OnnxTensor> inits = new ArrayList<>(g.initializers());
        List<OnnxNode> nodes = new ArrayList<>();
        for (OnnxNode n : OnnxGraphCheck.topological(g)) {
            if (!n.isDefaultDomain()) {
                nodes.add(n);
                continue;
            }
            Integer since = SAME_SINCE.get(n.opType());
            if (since == null) {
                throw new BadInputException(source, "node " + n.label() + ": op " + n.opType() + " at opset " + from
                        + " cannot be upgraded to opset " + target + " (not in lowbit's upgrade table)");
            }
            switch (n.opType()) {
                case "Constant" -> {
                    OnnxAttribute v = n.attribute("value").orElseThrow(() -> new BadInputException(source,
                            "node " + n.label() + ": Constant without a tensor 'value' cannot be upgraded"));
                    if (v.type() != OnnxAttribute.Type.TENSOR || n.outputs().size() != 1) {
                        throw new BadInputException(source, "node " + n.label() + ": Constant 'value' is not a tensor");
                    }
                    OnnxTensor t = v.t().with(n.outputs().getFirst(), v.t().dims());
                    inits.add(t);
                    consts.put(t.name(), t);
                    rank.put(t.name(), t.dims().length);
                    continue;
                }
                case "Reshape" -> {
                    if (from < 5) {
                        OnnxAttribute shape = n.attribute("shape").orElseThrow(() -> new BadInputException(source,
                                "node " + n.label() + ": Reshape-1 without a 'shape' attribute"));
                        if (n.attributes().size() != 1) refuse(n, from, target, source, "attributes other than shape");
                        String name = uniqueName(n.outputs().getFirst() + "_shape", consts, g);
                        long[] s = shape.ints();
                        byte[] b = new byte[s.length * 8];
                        java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).asLongBuffer().put(s);
                        OnnxTensor st = OnnxTensor.ofBytes(name, OnnxDataType.INT64, new long[]{s.length}, b);
                        inits.add(st);
                        consts.put(name, st);
                        nodes.add(new OnnxNode(n.name(), "Reshape", "", List.of(n.inputs().getFirst(), name), n.outputs(), List.of(), n.docString()));
                        rank.put(n.outputs().getFirst(), s.length);
                        continue;
                    }
                }
                case "Add", "Sub", "Mul", "Div" -> {
                    if (from < 7) {
                        nodes.add(legacyBroadcast(n, from, target, source, rank, consts, inits));
                        rank.put(n.outputs().getFirst(), rank.getOrDefault(n.inputs().getFirst(), -1));
                        continue;
                    }
                }
                default -> {
                    // opset 6 only dropped the legacy 'consumed_inputs' attribute of these: without it, nothing changed
                    if (CONSUMED_INPUTS_ONLY.contains(n.opType()) && n.attribute("consumed_inputs").isEmpty()) since = 1;
                    // Softmax-1..12 flatten to 2-D at 'axis' (default 1); on the last axis that equals Softmax-13
                    if (n.opType().endsWith("Softmax") && from < 13) {
                        long axis = n.attribute("axis").map(OnnxAttribute::i).orElse(1L);
                        Integer r = rank.get(n.inputs().getFirst());
                        if (axis == -1 || (r != null && r > 0 && axis == r - 1)) since = 1;
                    }
                    if (from < since) refuse(n, from, target, source, "its semantics changed at opset " + since);
                }
            }
            if (from < since) refuse(n, from, target, source, "its semantics changed at opset " + since);
            nodes.add(n);
            if (RANK_PRESERVING.contains(n.opType()) && rank.containsKey(n.inputs().getFirst())) {
                rank.put(n.outputs().getFirst(), rank.get(n.inputs().getFirst()));
            } else if (n.opType().equals("Gemm")) {
                rank.put(n.outputs().getFirst(), 2);
            } else if (n.opType().equals("MatMul")) {
                rank.put(n.outputs().getFirst(), Math.max(rank.getOrDefault(n.inputs().get(0), -1), rank.getOrDefault(n.inputs().get(1), -1)));
            }
        }
        // IR 3 lists initializers among the graph inputs; IR 4+ may not: keep only real feeds as inputs
        List<OnnxValueInfo> inputs = g.inputs().stream().filter(v -> !consts.containsKey(v.name())).toList();
        // constants a rewrite replaced (a legacy-broadcast B) are no longer read: drop them
        java.util.Set<String> read = new java.util.HashSet<>();
        for (OnnxNode n : nodes) read.addAll(n.inputs());
        for (OnnxValueInfo v : g.outputs()) read.add(v.name());
        inits.removeIf(t -> !read.contains(t.name()));
        OnnxGraph ng = new OnnxGraph(g.name(), nodes, inits, inputs, g.outputs(), g.valueInfo(), g.docString());
        long ir = Math.max(model.irVersion(), 10); // opset 21 needs IR 10
        return model.withGraph(ng).withOpset("", target).withIrVersion(ir);
    }

    private static OnnxNode legacyBroadcast(OnnxNode n, long from, long target, String source, Map<String, Integer> rank,
                                            Map<String, OnnxTensor> consts, List<OnnxTensor> inits) {
        long broadcast = n.attribute("broadcast").map(OnnxAttribute::i).orElse(0L);
        for (OnnxAttribute a : n.attributes()) {
            if (!a.name().equals("broadcast") && !a.name().equals("axis")) refuse(n, from, target, source, "attribute " + a.name());
        }
        List<String> in = n.inputs();
        if (broadcast == 0 || n.attribute("axis").isEmpty()) {
            // no broadcasting (equal shapes), or suffix alignment: NumPy broadcasting gives the same result
            return new OnnxNode(n.name(), n.opType(), "", in, n.outputs(), List.of(), n.docString());
        }
        long axis = n.attribute("axis").get().i();
        OnnxTensor b = consts.get(in.get(1));
        Integer ra = rank.get(in.get(0));
        if (b == null || ra == null || ra < 0) {
            refuse(n, from, target, source, "legacy broadcast with axis needs a constant B and a known rank of A");
        }
        if (axis < 0) axis += ra;
        long[] bd = b.dims();
        int pad = (int) (ra - axis - bd.length);
        if (axis < 0 || pad < 0) refuse(n, from, target, source, "broadcast axis " + axis + " does not fit A's rank " + ra);
        long[] nd = java.util.Arrays.copyOf(bd, bd.length + pad);
        for (int k = bd.length; k < nd.length; k++) nd[k] = 1;
        String name = uniqueName(b.name() + "_bcast", consts, null);
        OnnxTensor nb = b.with(name, nd);
        inits.add(nb);
        consts.put(name, nb);
        return new OnnxNode(n.name(), n.opType(), "", List.of(in.get(0), name), n.outputs(), List.of(), n.docString());
    }

    private static String uniqueName(String base, Map<String, OnnxTensor> consts, OnnxGraph g) {
        String name = base;
        for (int k = 1; consts.containsKey(name); k++) name = base + "_" + k;
        return name;
    }

    private static void refuse(OnnxNode n, long from, long target, String source, String why) {
        throw new BadInputException(source, "node " + n.label() + ": op " + n.opType() + " at opset " + from
                + " cannot be upgraded to opset " + target + " (" + why + ")");
    }
}
