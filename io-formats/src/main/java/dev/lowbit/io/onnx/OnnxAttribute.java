package dev.lowbit.io.onnx;

import java.util.Arrays;
import java.util.List;

/**
 * {@code AttributeProto}: a node attribute of one {@link Type}; only the field of that type is meaningful. Strings are
 * bytes on the wire ({@code s}, {@code strings}); they are kept as bytes so that a round trip is exact.
 */
public record OnnxAttribute(String name, Type type, float f, long i, byte[] s, OnnxTensor t, OnnxGraph g,
                            float[] floats, long[] ints, List<byte[]> strings, List<OnnxTensor> tensors,
                            List<OnnxGraph> graphs, String refAttrName, String docString) {
    /** {@code AttributeProto.AttributeType} with its wire id. */
    public enum Type {
        FLOAT(1), INT(2), STRING(3), TENSOR(4), GRAPH(5), FLOATS(6), INTS(7), STRINGS(8), TENSORS(9), GRAPHS(10);

        private final int id;

        Type(int id) {
            this.id = id;
        }

        public int id() {
            return id;
        }

        static Type of(int id) {
            for (Type t : values()) if (t.id == id) return t;
            return null;
        }
    }

    public OnnxAttribute {
        floats = floats == null ? new float[0] : floats.clone();
        ints = ints == null ? new long[0] : ints.clone();
        s = s == null ? new byte[0] : s.clone();
        strings = strings == null ? List.of() : List.copyOf(strings);
        tensors = tensors == null ? List.of() : List.copyOf(tensors);
        graphs = graphs == null ? List.of() : List.copyOf(graphs);
        if (refAttrName == null) refAttrName = "";
        if (docString == null) docString = "";
    }

    public static OnnxAttribute ofInt(String name, long v) {
        return new OnnxAttribute(name, Type.INT, 0, v, null, null, null, null, null, null, null, null, null, null);
    }

    public static OnnxAttribute ofFloat(String name, float v) {
        return new OnnxAttribute(name, Type.FLOAT, v, 0, null, null, null, null, null, null, null, null, null, null);
    }

    public static OnnxAttribute ofInts(String name, long... v) {
        return new OnnxAttribute(name, Type.INTS, 0, 0, null, null, null, null, v, null, null, null, null, null);
    }

    public static OnnxAttribute ofString(String name, String v) {
        return new OnnxAttribute(name, Type.STRING, 0, 0, v.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                null, null, null, null, null, null, null, null, null);
    }

    public static OnnxAttribute ofTensor(String name, OnnxTensor v) {
        return new OnnxAttribute(name, Type.TENSOR, 0, 0, null, v, null, null, null, null, null, null, null, null);
    }

    public String stringValue() {
        return new String(s, java.nio.charset.StandardCharsets.UTF_8);
    }

    @Override
    public float[] floats() {
        return floats.clone();
    }

    @Override
    public long[] ints() {
        return ints.clone();
    }

    @Override
    public byte[] s() {
        return s.clone();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof OnnxAttribute a)) return false;
        if (strings.size() != a.strings.size()) return false;
        for (int k = 0; k < strings.size(); k++) if (!Arrays.equals(strings.get(k), a.strings.get(k))) return false;
        return name.equals(a.name) && type == a.type && Float.floatToRawIntBits(f) == Float.floatToRawIntBits(a.f)
                && i == a.i && Arrays.equals(s, a.s) && java.util.Objects.equals(t, a.t) && java.util.Objects.equals(g, a.g)
                && Arrays.equals(floats, a.floats) && Arrays.equals(ints, a.ints) && tensors.equals(a.tensors)
                && graphs.equals(a.graphs) && refAttrName.equals(a.refAttrName) && docString.equals(a.docString);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + type.hashCode();
    }
}
