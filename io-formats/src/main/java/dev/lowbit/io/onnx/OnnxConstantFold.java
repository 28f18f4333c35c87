package dev.lowbit.io.onnx;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Folds {@code Reshape(initializer, constant shape)} into a reshaped initializer (the same bytes, new dims), so that a
 * weight that an exporter reshapes at run time (CNTK's MNIST: {@code Parameter193 → Reshape → MatMul}) is a constant
 * the quantizers see. Reshape-5+ semantics without {@code allowzero}: 0 copies the input's dimension, −1 is inferred.
 */
public final class OnnxConstantFold {
    private OnnxConstantFold() {
    }

    public static OnnxModel reshapes(OnnxModel model) {
        OnnxGraph g = model.graph();
        Map<String, OnnxTensor> init = g.initializerMap();
        Set<String> outputs = new HashSet<>();
        g.outputs().forEach(o -> outputs.add(o.name()));
        List<OnnxNode> nodes = new ArrayList<>();
        List<OnnxTensor> inits = new ArrayList<>(g.initializers());
        boolean changed = false;
        for (OnnxNode n : g.nodes()) {
            if (n.isDefaultDomain() && n.opType().equals("Reshape") && n.inputs().size() == 2 && n.outputs().size() == 1
                    && n.attribute("allowzero").map(a -> a.i() == 0).orElse(true) && !outputs.contains(n.outputs().getFirst())) {
                OnnxTensor data = init.get(n.inputs().get(0)), shape = init.get(n.inputs().get(1));
                if (data != null && shape != null && shape.dataType() == OnnxDataType.INT64 && shape.dims().length == 1) {
                    long[] dims = target(data.dims(), shape.longs());
                    if (dims != null) {
                        OnnxTensor folded = data.with(n.outputs().getFirst(), dims);
                        inits.add(folded);
                        init.put(folded.name(), folded);
                        changed = true;
                        continue;
                    }
                }
            }
            nodes.add(n);
        }
        if (!changed) return model;
        Set<String> read = new HashSet<>(outputs);
        for (OnnxNode n : nodes) read.addAll(n.inputs());
        Set<String> dropped = new HashSet<>();
        inits.removeIf(t -> {
            boolean unused = !read.contains(t.name());
            if (unused) dropped.add(t.name());
            return unused;
        });
        List<OnnxValueInfo> inputs = g.inputs().stream().filter(v -> !dropped.contains(v.name())).toList();
        return model.withGraph(new OnnxGraph(g.name(), nodes, inits, inputs, g.outputs(), g.valueInfo(), g.docString()));
    }

    private static long[] target(long[] in, long[] shape) {
        long[] out = new long[shape.length];
        long known = 1, total = 1;
        int infer = -1;
        for (long d : in) total = Math.multiplyExact(total, d);
        for (int i = 0; i < shape.length; i++) {
            long s = shape[i];
            if (s == 0) {
                if (i >= in.length) return null;
                s = in[i];
            }
            if (s == -1) {
                if (infer >= 0) return null;
                infer = i;
                continue;
            }
            if (s < 0) return null;
            out[i] = s;
            known = Math.multiplyExact(known, s);
        }
        if (infer >= 0) {
            if (known == 0 || total % known != 0) return null;
            out[infer] = total / known;
        } else if (known != total) {
            return null;
        }
        return out;
    }
}
