package dev.lowbit.io.onnx;

import java.util.List;

/**
 * {@code ValueInfoProto} of a tensor value: its name, element type and shape. {@code elemType} is null when the type
 * is not given; {@code dims} is null when the rank is unknown; a dimension is either a value ({@code param == null})
 * or a symbolic name. Non-tensor types (sequence, map, optional) are refused by the reader.
 */
public record OnnxValueInfo(String name, OnnxDataType elemType, List<Dim> dims, String docString) {
    public record Dim(long value, String param) {
        public static Dim of(long value) {
            return new Dim(value, null);
        }

        public static Dim symbolic(String param) {
            return new Dim(-1, param);
        }

        public boolean known() {
            return param == null && value >= 0;
        }

        @Override
        public String toString() {
            return param != null ? param : value < 0 ? "?" : Long.toString(value);
        }
    }

    public OnnxValueInfo {
        dims = dims == null ? null : List.copyOf(dims);
        if (docString == null) docString = "";
    }

    /** A float tensor value with unknown shape, as the calibration's extra outputs are declared. */
    public static OnnxValueInfo floatTensor(String name) {
        return new OnnxValueInfo(name, OnnxDataType.FLOAT, null, "");
    }

    /** The shape with every dimension known, or null. */
    public long[] knownDims() {
        if (dims == null) return null;
        long[] d = new long[dims.size()];
        for (int i = 0; i < d.length; i++) {
            if (!dims.get(i).known()) return null;
            d[i] = dims.get(i).value();
        }
        return d;
    }
}
