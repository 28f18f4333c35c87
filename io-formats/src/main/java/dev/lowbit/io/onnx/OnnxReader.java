package dev.lowbit.io.onnx;

import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads an ONNX model ({@code ModelProto}) from its protobuf bytes, memory-mapped, with strict validation: every
 * length is checked against its message, tensor data must match dims × element size exactly, dims are non-negative
 * and their product fits, data types are known, and external data ({@code data_location = EXTERNAL}) may only name a
 * regular file inside the model's directory (links resolved) and a range inside that file. A path that escapes the
 * directory is refused before anything is opened. Graph structure (names defined once, no cycles) is checked by
 * {@link OnnxGraphCheck}.
 *
 * <p>Field numbers below are those of the ONNX schema ({@code onnx.proto}), written from its documentation.
 */
public final class OnnxReader {
    /** Tensors larger than this are refused (absurd dims are caught before any allocation). */
    static final long MAX_TENSOR_BYTES = 1L << 40;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String source;
    private final Path baseDir;
    private final Arena arena;
    private final Map<String, MemorySegment> externalFiles = new HashMap<>();

    private OnnxReader(String source, Path baseDir, Arena arena) {
        this.source = source;
        this.baseDir = baseDir;
        this.arena = arena;
    }

    /** Reads and validates the model at {@code file}; external data is resolved against its directory. */
    public static OnnxModel read(Path file) {
        String source = file.toString();
        if (!Files.isRegularFile(file)) throw new BadInputException(source, "not a regular file");
        Arena arena = Arena.ofAuto();
        MemorySegment data = map(file, source, arena);
        Path dir = file.toAbsolutePath().getParent();
        OnnxModel model = new OnnxReader(source, dir, arena).model(new ProtoReader(data, source));
        OnnxGraphCheck.check(model, source);
        return model;
    }

    /** Parses a model from bytes; a model that names external data is refused (there is no directory). */
    public static OnnxModel parse(byte[] bytes, String source) {
        OnnxModel model = new OnnxReader(source, null, Arena.ofAuto()).model(new ProtoReader(MemorySegment.ofArray(bytes), source));
        OnnxGraphCheck.check(model, source);
        return model;
    }

    /** Reads one serialized {@code TensorProto} (ONNX test data {@code input_0.pb}); external data is refused. */
    public static OnnxTensor readTensor(Path file) {
        String source = file.toString();
        if (!Files.isRegularFile(file)) throw new BadInputException(source, "not a regular file");
        MemorySegment data = map(file, source, Arena.ofAuto());
        return new OnnxReader(source, null, Arena.ofAuto()).tensor(new ProtoReader(data, source));
    }

    private static MemorySegment map(Path file, String source, Arena arena) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (IOException e) {
            throw new BadInputException(source, "cannot read: " + e.getMessage());
        }
    }

    // ---- ModelProto: ir_version 1, producer_name 2, producer_version 3, domain 4, model_version 5, doc_string 6,
    //      graph 7, opset_import 8, metadata_props 14, training_info 20, functions 25

    private OnnxModel model(ProtoReader r) {
        long ir = -1;
        List<OnnxModel.OpsetId> opsets = new ArrayList<>();
        String producerName = "", producerVersion = "", domain = "", doc = "";
        long modelVersion = 0;
        OnnxGraph graph = null;
        List<Map.Entry<String, String>> meta = new ArrayList<>();
        boolean any = false;
        while (r.next()) {
            any = true;
            switch (r.field()) {
                case 1 -> ir = r.int64("ir_version");
                case 2 -> producerName = r.string("producer_name");
                case 3 -> producerVersion = r.string("producer_version");
                case 4 -> domain = r.string("domain");
                case 5 -> modelVersion = r.int64("model_version");
                case 6 -> doc = r.string("doc_string");
                case 7 -> {
                    if (graph != null) throw r.bad("more than one graph");
                    graph = graph(r.message("graph"), 0);
                }
                case 8 -> opsets.add(opset(r.message("opset_import")));
                case 14 -> meta.add(entry(r.message("metadata_props")));
                case 20 -> throw r.bad("training_info is not supported");
                case 25 -> throw r.bad("model-local functions are not supported");
                default -> r.skip();
            }
        }
        if (!any) throw new BadInputException(source, "empty file: not an ONNX model");
        if (ir < 0) throw new BadInputException(source, "no ir_version: not an ONNX model");
        if (graph == null) throw new BadInputException(source, "no graph");
        return new OnnxModel(ir, opsets, producerName, producerVersion, domain, modelVersion, doc, graph, meta);
    }

    private OnnxModel.OpsetId opset(ProtoReader r) {
        String domain = "";
        long version = -1;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> domain = r.string("opset_import.domain");
                case 2 -> version = r.int64("opset_import.version");
                default -> r.skip();
            }
        }
        if (version < 1) throw new BadInputException(source, "opset_import of domain '" + domain + "' has version " + version);
        return new OnnxModel.OpsetId(domain, version);
    }

    private Map.Entry<String, String> entry(ProtoReader r) {
        String k = "", v = "";
        while (r.next()) {
            switch (r.field()) {
                case 1 -> k = r.string("key");
                case 2 -> v = r.string("value");
                default -> r.skip();
            }
        }
        return new AbstractMap.SimpleImmutableEntry<>(k, v);
    }

    // ---- GraphProto: node 1, name 2, initializer 5, doc_string 10, input 11, output 12, value_info 13,
    //      quantization_annotation 14, sparse_initializer 15

    private OnnxGraph graph(ProtoReader r, int depth) {
        List<OnnxNode> nodes = new ArrayList<>();
        List<OnnxTensor> init = new ArrayList<>();
        List<OnnxValueInfo> in = new ArrayList<>(), out = new ArrayList<>(), vi = new ArrayList<>();
        String name = "", doc = "";
        while (r.next()) {
            switch (r.field()) {
                case 1 -> nodes.add(node(r.message("node"), depth));
                case 2 -> name = r.string("graph.name");
                case 5 -> init.add(tensor(r.message("initializer")));
                case 10 -> doc = r.string("graph.doc_string");
                case 11 -> in.add(valueInfo(r.message("input")));
                case 12 -> out.add(valueInfo(r.message("output")));
                case 13 -> vi.add(valueInfo(r.message("value_info")));
                case 15 -> throw r.bad("sparse initializers are not supported");
                default -> r.skip();
            }
        }
        return new OnnxGraph(name, nodes, init, in, out, vi, doc);
    }

    // ---- NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, doc_string 6, domain 7

    private OnnxNode node(ProtoReader r, int depth) {
        List<String> in = new ArrayList<>(), out = new ArrayList<>();
        List<OnnxAttribute> attrs = new ArrayList<>();
        String name = "", op = "", domain = "", doc = "";
        while (r.next()) {
            switch (r.field()) {
                case 1 -> in.add(r.string("node.input"));
                case 2 -> out.add(r.string("node.output"));
                case 3 -> name = r.string("node.name");
                case 4 -> op = r.string("node.op_type");
                case 5 -> attrs.add(attribute(r.message("attribute"), depth));
                case 6 -> doc = r.string("node.doc_string");
                case 7 -> domain = r.string("node.domain");
                default -> r.skip();
            }
        }
        if (op.isEmpty()) throw new BadInputException(source, "node '" + name + "' has no op_type");
        return new OnnxNode(name, op, domain, in, out, attrs, doc);
    }

    // ---- AttributeProto: name 1, f 2, i 3, s 4, t 5, g 6, floats 7, ints 8, strings 9, tensors 10, graphs 11,
    //      doc_string 13, type 20, ref_attr_name 21 (sparse_tensor 22, sparse_tensors 23, tp 14, type_protos 15)

    private OnnxAttribute attribute(ProtoReader r, int depth) {
        String name = "", ref = "", doc = "";
        int typeId = 0;
        float f = 0;
        long i = 0;
        byte[] s = null;
        OnnxTensor t = null;
        OnnxGraph g = null;
        FloatList floats = new FloatList();
        LongList ints = new LongList();
        List<byte[]> strings = new ArrayList<>();
        List<OnnxTensor> tensors = new ArrayList<>();
        List<OnnxGraph> graphs = new ArrayList<>();
        while (r.next()) {
            switch (r.field()) {
                case 1 -> name = r.string("attribute.name");
                case 2 -> f = r.float32("attribute.f");
                case 3 -> i = r.int64("attribute.i");
                case 4 -> s = bytes(r.bytes("attribute.s"));
                case 5 -> t = tensor(r.message("attribute.t"));
                case 6 -> g = subgraph(r, depth);
                case 7 -> r.repeated(ProtoReader.I32, "attribute.floats", v -> floats.add(Float.intBitsToFloat((int) v)));
                case 8 -> r.repeated(ProtoReader.VARINT, "attribute.ints", ints::add);
                case 9 -> strings.add(bytes(r.bytes("attribute.strings")));
                case 10 -> tensors.add(tensor(r.message("attribute.tensors")));
                case 11 -> graphs.add(subgraph(r, depth));
                case 13 -> doc = r.string("attribute.doc_string");
                case 20 -> typeId = r.int32("attribute.type");
                case 21 -> ref = r.string("attribute.ref_attr_name");
                case 14, 15, 22, 23 -> throw r.bad("attribute '" + name + "': sparse tensor and type-proto attributes are not supported");
                default -> r.skip();
            }
        }
        OnnxAttribute.Type type = OnnxAttribute.Type.of(typeId);
        if (type == null) {
            // IR < 3 producers may leave type unset: infer it from the one field that is present
            if (typeId == 0) type = inferType(f, i, s, t, g, floats.size(), ints.size(), strings, tensors, graphs);
            if (type == null) throw new BadInputException(source, "attribute '" + name + "': unknown or missing type " + typeId);
        }
        if ((type == OnnxAttribute.Type.TENSOR && t == null) || (type == OnnxAttribute.Type.GRAPH && g == null)) {
            throw new BadInputException(source, "attribute '" + name + "' of type " + type + " holds no value");
        }
        return new OnnxAttribute(name, type, f, i, s, t, g, floats.toArray(), ints.toArray(), strings, tensors, graphs, ref, doc);
    }

    private static OnnxAttribute.Type inferType(float f, long i, byte[] s, OnnxTensor t, OnnxGraph g, int nf, int ni,
                                                List<byte[]> strings, List<OnnxTensor> tensors, List<OnnxGraph> graphs) {
        if (nf > 0) return OnnxAttribute.Type.FLOATS;
        if (ni > 0) return OnnxAttribute.Type.INTS;
        if (!strings.isEmpty()) return OnnxAttribute.Type.STRINGS;
        if (!tensors.isEmpty()) return OnnxAttribute.Type.TENSORS;
        if (!graphs.isEmpty()) return OnnxAttribute.Type.GRAPHS;
        if (t != null) return OnnxAttribute.Type.TENSOR;
        if (g != null) return OnnxAttribute.Type.GRAPH;
        if (s != null) return OnnxAttribute.Type.STRING;
        if (f != 0) return OnnxAttribute.Type.FLOAT;
        if (i != 0) return OnnxAttribute.Type.INT;
        return null;
    }

    private OnnxGraph subgraph(ProtoReader r, int depth) {
        if (depth >= 16) throw r.bad("subgraphs nested more than 16 deep");
        return graph(r.message("attribute.g"), depth + 1);
    }

    // ---- ValueInfoProto: name 1, type 2, doc_string 3. TypeProto: tensor_type 1 (sequence 4, map 5, sparse 8,
    //      optional 9), denotation 6. TypeProto.Tensor: elem_type 1, shape 2. TensorShapeProto: dim 1.
    //      Dimension: dim_value 1, dim_param 2, denotation 3.

    private OnnxValueInfo valueInfo(ProtoReader r) {
        String name = "", doc = "";
        OnnxDataType elem = null;
        List<OnnxValueInfo.Dim> dims = null;
        boolean typed = false;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> name = r.string("value_info.name");
                case 2 -> {
                    ProtoReader t = r.message("value_info.type");
                    while (t.next()) {
                        switch (t.field()) {
                            case 1 -> {
                                typed = true;
                                ProtoReader tt = t.message("tensor_type");
                                while (tt.next()) {
                                    switch (tt.field()) {
                                        case 1 -> {
                                            int id = tt.int32("elem_type");
                                            elem = id == 0 ? null : OnnxDataType.of(id, source, "value '" + name + "'");
                                        }
                                        case 2 -> dims = shape(tt.message("shape"), name);
                                        default -> tt.skip();
                                    }
                                }
                            }
                            case 4, 5, 8, 9 -> throw new BadInputException(source, "value '" + name + "': only tensor values are supported (sequence, map, sparse or optional type)");
                            default -> t.skip();
                        }
                    }
                }
                case 3 -> doc = r.string("value_info.doc_string");
                default -> r.skip();
            }
        }
        if (name.isEmpty()) throw new BadInputException(source, "a graph input, output or value_info has no name");
        if (!typed) return new OnnxValueInfo(name, null, null, doc);
        return new OnnxValueInfo(name, elem, dims, doc);
    }

    private List<OnnxValueInfo.Dim> shape(ProtoReader r, String value) {
        List<OnnxValueInfo.Dim> dims = new ArrayList<>();
        while (r.next()) {
            if (r.field() != 1) {
                r.skip();
                continue;
            }
            ProtoReader d = r.message("dim");
            long v = -1;
            String param = null;
            while (d.next()) {
                switch (d.field()) {
                    case 1 -> v = d.int64("dim_value");
                    case 2 -> param = d.string("dim_param");
                    default -> d.skip();
                }
            }
            if (param == null && v < -1) throw new BadInputException(source, "value '" + value + "': negative dimension " + v);
            dims.add(param != null ? OnnxValueInfo.Dim.symbolic(param) : OnnxValueInfo.Dim.of(v));
        }
        return dims;
    }

    // ---- TensorProto: dims 1, data_type 2, segment 3, float_data 4, int32_data 5, string_data 6, int64_data 7,
    //      name 8, raw_data 9, double_data 10, uint64_data 11, doc_string 12, external_data 13, data_location 14

    private OnnxTensor tensor(ProtoReader r) {
        LongList dims = new LongList();
        int typeId = 0;
        String name = "", doc = "";
        MemorySegment raw = null;
        LongList typed = new LongList();
        int typedField = 0;
        List<Map.Entry<String, String>> external = new ArrayList<>();
        int location = 0;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> r.repeated(ProtoReader.VARINT, "tensor.dims", dims::add);
                case 2 -> typeId = r.int32("tensor.data_type");
                case 3 -> throw r.bad("tensor segments are not supported");
                case 4, 5, 7, 10, 11 -> {
                    int f = r.field();
                    if (typedField != 0 && typedField != f) throw r.bad("tensor '" + name + "' holds two typed data fields");
                    typedField = f;
                    int wire = f == 4 ? ProtoReader.I32 : f == 10 ? ProtoReader.I64 : ProtoReader.VARINT;
                    r.repeated(wire, "tensor data", typed::add);
                }
                case 6 -> throw r.bad("tensor '" + name + "': STRING tensors are not supported");
                case 8 -> name = r.string("tensor.name");
                case 9 -> raw = r.bytes("tensor.raw_data");
                case 12 -> doc = r.string("tensor.doc_string");
                case 13 -> external.add(entry(r.message("external_data")));
                case 14 -> location = r.int32("tensor.data_location");
                default -> r.skip();
            }
        }
        String what = "tensor '" + name + "'";
        OnnxDataType type = OnnxDataType.of(typeId, source, what);
        if (type == OnnxDataType.STRING || type == OnnxDataType.COMPLEX64 || type == OnnxDataType.COMPLEX128) {
            throw new BadInputException(source, what + ": data_type " + type + " is not supported");
        }
        long[] d = dims.toArray();
        long elements = 1;
        for (long v : d) {
            if (v < 0) throw new BadInputException(source, what + ": negative dimension " + v);
            try {
                elements = Math.multiplyExact(elements, v);
            } catch (ArithmeticException e) {
                throw new BadInputException(source, what + ": dims " + java.util.Arrays.toString(d) + " overflow 64 bits");
            }
        }
        long bytes;
        try {
            bytes = type.byteSizeOf(elements);
        } catch (ArithmeticException e) {
            throw new BadInputException(source, what + ": dims " + java.util.Arrays.toString(d) + " overflow 64 bits");
        }
        if (bytes > MAX_TENSOR_BYTES) throw new BadInputException(source, what + ": dims " + java.util.Arrays.toString(d) + " imply " + bytes + " bytes");
        int sources = (raw != null ? 1 : 0) + (typedField != 0 ? 1 : 0) + (location == 1 ? 1 : 0);
        if (location != 0 && location != 1) throw new BadInputException(source, what + ": unknown data_location " + location);
        if (location == 0 && !external.isEmpty()) throw new BadInputException(source, what + ": external_data given but data_location is DEFAULT");
        if (sources > 1) throw new BadInputException(source, what + ": more than one of raw_data, typed data and external data");
        MemorySegment data;
        if (location == 1) {
            data = external(what, external, bytes);
        } else if (raw != null) {
            if (raw.byteSize() != bytes) {
                throw new BadInputException(source, what + ": raw_data holds " + raw.byteSize() + " bytes, dims " + java.util.Arrays.toString(d) + " of " + type + " need " + bytes);
            }
            data = raw;
        } else if (typedField != 0) {
            data = fromTyped(what, type, typedField, typed, elements, bytes);
        } else if (elements == 0) {
            data = MemorySegment.ofArray(new byte[0]);
        } else {
            throw new BadInputException(source, what + ": no data for " + elements + " elements");
        }
        return new OnnxTensor(name, type, d, data, doc);
    }

    /** Typed fields → little-endian raw bytes, per the field each type uses in the ONNX schema. */
    private MemorySegment fromTyped(String what, OnnxDataType type, int field, LongList values, long elements, long bytes) {
        int expected = switch (type) {
            case FLOAT -> 4;
            case INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16,
                 FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ, FLOAT8E8M0 -> 5;
            case INT64 -> 7;
            case DOUBLE -> 10;
            case UINT32, UINT64 -> 11;
            default -> throw new BadInputException(source, what + ": " + type + " must be stored in raw_data");
        };
        if (field != expected) throw new BadInputException(source, what + ": " + type + " data in the wrong typed field (" + field + ")");
        if (values.size() != elements) throw new BadInputException(source, what + ": " + values.size() + " values for " + elements + " elements");
        MemorySegment s = MemorySegment.ofArray(new byte[Math.toIntExact(bytes)]);
        int size = type.bits() / 8;
        for (int k = 0; k < values.size(); k++) {
            long v = values.get(k);
            switch (size) {
                case 1 -> s.set(ValueLayout.JAVA_BYTE, k, (byte) v);
                case 2 -> s.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * k, (short) v);
                case 4 -> s.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * k, (int) v);
                default -> s.set(I64, 8L * k, v);
            }
        }
        return s;
    }

    /**
     * External data: {@code location} relative to the model's directory, confined to it (no absolute path, no "..",
     * and the real path, links resolved, still inside the real directory); {@code offset}/{@code length} inside the
     * file; {@code length}, when given, equal to the tensor's size.
     */
    private MemorySegment external(String what, List<Map.Entry<String, String>> entries, long bytes) {
        if (baseDir == null) throw new BadInputException(source, what + ": external data is not allowed here");
        String location = null;
        long offset = 0, length = -1;
        for (Map.Entry<String, String> e : entries) {
            switch (e.getKey()) {
                case "location" -> location = e.getValue();
                case "offset" -> offset = number(what, "offset", e.getValue());
                case "length" -> length = number(what, "length", e.getValue());
                case "checksum" -> { }
                default -> throw new BadInputException(source, what + ": unknown external_data key '" + e.getKey() + "'");
            }
        }
        if (location == null || location.isEmpty()) throw new BadInputException(source, what + ": external data without a location");
        Path rel;
        try {
            rel = Path.of(location);
        } catch (java.nio.file.InvalidPathException e) {
            throw new BadInputException(source, what + ": external data location '" + location + "' is not a valid path");
        }
        if (rel.isAbsolute() || location.contains("\0")) throw new BadInputException(source, what + ": external data location '" + location + "' is absolute; it must lie in the model's directory");
        for (Path part : rel) {
            if (part.toString().equals("..")) throw new BadInputException(source, what + ": external data location '" + location + "' escapes the model's directory");
        }
        if (length >= 0 && length != bytes) throw new BadInputException(source, what + ": external data length " + length + " but the tensor needs " + bytes + " bytes");
        MemorySegment file = externalFiles.get(location);
        if (file == null) {
            Path p = baseDir.resolve(rel).normalize();
            try {
                Path realDir = baseDir.toRealPath();
                if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) throw new BadInputException(source, what + ": external data file '" + location + "' does not exist");
                Path real = p.toRealPath();
                if (!real.startsWith(realDir)) throw new BadInputException(source, what + ": external data location '" + location + "' leads outside the model's directory");
                if (!Files.isRegularFile(real)) throw new BadInputException(source, what + ": external data '" + location + "' is not a regular file");
            } catch (IOException e) {
                throw new BadInputException(source, what + ": external data '" + location + "': " + e.getMessage());
            }
            file = map(p, source, arena);
            externalFiles.put(location, file);
        }
        if (offset > file.byteSize() || bytes > file.byteSize() - offset) {
            throw new BadInputException(source, what + ": external data [" + offset + ", " + offset + "+" + bytes + ") runs past the end of '" + location + "' (" + file.byteSize() + " bytes)");
        }
        return file.asSlice(offset, bytes);
    }

    private long number(String what, String key, String v) {
        try {
            long n = Long.parseLong(v);
            if (n < 0) throw new NumberFormatException();
            return n;
        } catch (NumberFormatException e) {
            throw new BadInputException(source, what + ": external data " + key + " '" + v + "' is not a non-negative integer");
        }
    }

    private static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    /** A growable long array (values of packed fields). */
    static final class LongList {
        private long[] a = new long[8];
        private int n;

        void add(long v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, a.length * 2);
            a[n++] = v;
        }

        int size() {
            return n;
        }

        long get(int i) {
            return a[i];
        }

        long[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }
    }

    static final class FloatList {
        private float[] a = new float[8];
        private int n;

        void add(float v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, a.length * 2);
            a[n++] = v;
        }

        int size() {
            return n;
        }

        float[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }
    }
}
