package dev.lowbit.pipeline.onnx;

import dev.lowbit.io.onnx.OnnxAttribute;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxNode;
import dev.lowbit.io.onnx.OnnxTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/** Appends nodes and initializers with unique, readable names; each op method returns its output's name. */
final class GraphBuilder {
    final List<OnnxNode> nodes = new ArrayList<>();
    final List<OnnxTensor> initializers = new ArrayList<>();
    private int counter;

    String op(String opType, String name, List<String> inputs, OnnxAttribute... attrs) {
        return op("", opType, name, inputs, attrs);
    }

    String op(String domain, String opType, String name, List<String> inputs, OnnxAttribute... attrs) {
        String out = name + "/output_0";
        nodes.add(new OnnxNode(name, opType, domain, inputs, List.of(out), List.of(attrs)));
        return out;
    }

    /** A node whose outputs are named by the caller (graph outputs such as {@code present.0.key}). */
    void opTo(String opType, String name, List<String> inputs, List<String> outputs, OnnxAttribute... attrs) {
        nodes.add(new OnnxNode(name, opType, "", inputs, outputs, List.of(attrs)));
    }

    String unique(String base) {
        return base + "_" + counter++;
    }

    String init(OnnxTensor t) {
        initializers.add(t);
        return t.name();
    }

    String ints(String name, long... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) b.putLong(v);
        return init(OnnxTensor.ofBytes(name, OnnxDataType.INT64, new long[]{values.length}, b.array()));
    }

    String scalarInt(String name, long v) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
        return init(OnnxTensor.ofBytes(name, OnnxDataType.INT64, new long[0], b.array()));
    }

    String scalarFloat(String name, float v) {
        return init(OnnxTensor.ofFloats(name, new long[0], new float[]{v}));
    }
}
