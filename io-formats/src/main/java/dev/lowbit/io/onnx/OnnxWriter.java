package dev.lowbit.io.onnx;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Writes an {@link OnnxModel} as protobuf bytes ({@code ModelProto}), tensor data always as {@code raw_data}
 * (little-endian), or — for initializers of at least {@code externalThreshold} bytes — appended to one external data
 * file beside the model ({@code data_location = EXTERNAL}, {@code location}, {@code offset}, {@code length}), each
 * tensor aligned to {@value #ALIGNMENT} bytes so a runtime can map it. The caller owns atomicity: it writes into a
 * temp location and moves the result into place (quantize-cli's {@code SafeOutput}).
 */
public final class OnnxWriter {
    /** Protobuf messages cannot exceed 2 GiB: larger models need external data. */
    public static final long PROTOBUF_LIMIT = (1L << 31) - 1;
    static final int ALIGNMENT = 64;

    private final String dataFileName;
    private final long externalThreshold;
    private FileChannel data;
    private long dataOffset;

    private OnnxWriter(String dataFileName, long externalThreshold) {
        this.dataFileName = dataFileName;
        this.externalThreshold = externalThreshold;
    }

    /** Serializes {@code model} with every tensor inline. */
    public static byte[] toBytes(OnnxModel model) {
        return new OnnxWriter(null, Long.MAX_VALUE).model(model);
    }

    /**
     * Writes {@code model} to {@code file}; with {@code dataFileName} non-null, initializers of at least
     * {@code externalThreshold} bytes go to that file in the same directory. Returns the bytes written in all.
     */
    public static long write(OnnxModel model, Path file, String dataFileName, long externalThreshold) throws IOException {
        if (dataFileName != null && (dataFileName.contains("/") || dataFileName.equals("..") || dataFileName.isEmpty())) {
            throw new IllegalArgumentException("external data file name must be a plain name: " + dataFileName);
        }
        OnnxWriter w = new OnnxWriter(dataFileName, dataFileName == null ? Long.MAX_VALUE : externalThreshold);
        byte[] bytes;
        try {
            if (dataFileName != null) {
                w.data = FileChannel.open(file.resolveSibling(dataFileName), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            }
            bytes = w.model(model);
            if (w.data != null) w.data.force(true);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } finally {
            if (w.data != null) w.data.close();
        }
        if (bytes.length > PROTOBUF_LIMIT) throw new IOException("the model is over 2 GiB without its external data");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             OutputStream os = Channels.newOutputStream(ch)) {
            os.write(bytes);
            os.flush();
            ch.force(true);
        }
        return bytes.length + w.dataOffset;
    }

    private static final class UncheckedIOException extends RuntimeException {
        UncheckedIOException(IOException e) {
            super(e);
        }

        @Override
        public synchronized IOException getCause() {
            return (IOException) super.getCause();
        }
    }

    // Field numbers as in OnnxReader.

    private byte[] model(OnnxModel m) {
        ProtoWriter w = new ProtoWriter();
        w.varintField(1, m.irVersion());
        if (!m.producerName().isEmpty()) w.stringField(2, m.producerName());
        if (!m.producerVersion().isEmpty()) w.stringField(3, m.producerVersion());
        if (!m.domain().isEmpty()) w.stringField(4, m.domain());
        if (m.modelVersion() != 0) w.varintField(5, m.modelVersion());
        if (!m.docString().isEmpty()) w.stringField(6, m.docString());
        w.messageField(7, g -> graph(g, m.graph(), true));
        for (OnnxModel.OpsetId o : m.opsetImports()) {
            w.messageField(8, x -> {
                if (!o.domain().isEmpty()) x.stringField(1, o.domain());
                x.varintField(2, o.version());
            });
        }
        for (Map.Entry<String, String> e : m.metadataProps()) w.messageField(14, x -> entry(x, e.getKey(), e.getValue()));
        return w.toByteArray();
    }

    private static void entry(ProtoWriter x, String k, String v) {
        x.stringField(1, k);
        x.stringField(2, v);
    }

    private void graph(ProtoWriter w, OnnxGraph g, boolean main) {
        for (OnnxNode n : g.nodes()) w.messageField(1, x -> node(x, n));
        if (!g.name().isEmpty()) w.stringField(2, g.name());
        for (OnnxTensor t : g.initializers()) w.messageField(5, x -> tensor(x, t, main));
        if (!g.docString().isEmpty()) w.stringField(10, g.docString());
        for (OnnxValueInfo v : g.inputs()) w.messageField(11, x -> valueInfo(x, v));
        for (OnnxValueInfo v : g.outputs()) w.messageField(12, x -> valueInfo(x, v));
        for (OnnxValueInfo v : g.valueInfo()) w.messageField(13, x -> valueInfo(x, v));
    }

    private void node(ProtoWriter w, OnnxNode n) {
        for (String s : n.inputs()) w.stringField(1, s);
        for (String s : n.outputs()) w.stringField(2, s);
        if (!n.name().isEmpty()) w.stringField(3, n.name());
        w.stringField(4, n.opType());
        for (OnnxAttribute a : n.attributes()) w.messageField(5, x -> attribute(x, a));
        if (!n.docString().isEmpty()) w.stringField(6, n.docString());
        if (!n.domain().isEmpty()) w.stringField(7, n.domain());
    }

    private void attribute(ProtoWriter w, OnnxAttribute a) {
        w.stringField(1, a.name());
        switch (a.type()) {
            case FLOAT -> w.floatField(2, a.f());
            case INT -> w.varintField(3, a.i());
            case STRING -> w.bytesField(4, a.s());
            case TENSOR -> w.messageField(5, x -> tensor(x, a.t(), false));
            case GRAPH -> w.messageField(6, x -> graph(x, a.g(), false));
            case FLOATS -> w.packedFloats(7, a.floats());
            case INTS -> w.packedVarints(8, a.ints());
            case STRINGS -> a.strings().forEach(s -> w.bytesField(9, s));
            case TENSORS -> a.tensors().forEach(t -> w.messageField(10, x -> tensor(x, t, false)));
            case GRAPHS -> a.graphs().forEach(g -> w.messageField(11, x -> graph(x, g, false)));
        }
        if (!a.docString().isEmpty()) w.stringField(13, a.docString());
        w.varintField(20, a.type().id());
        if (!a.refAttrName().isEmpty()) w.stringField(21, a.refAttrName());
    }

    private static void valueInfo(ProtoWriter w, OnnxValueInfo v) {
        w.stringField(1, v.name());
        if (v.elemType() != null || v.dims() != null) {
            w.messageField(2, t -> t.messageField(1, tt -> {
                if (v.elemType() != null) tt.varintField(1, v.elemType().id());
                if (v.dims() != null) {
                    tt.messageField(2, s -> {
                        for (OnnxValueInfo.Dim d : v.dims()) {
                            s.messageField(1, x -> {
                                if (d.param() != null) x.stringField(2, d.param());
                                else if (d.value() >= 0) x.varintField(1, d.value());
                            });
                        }
                    });
                }
            }));
        }
        if (!v.docString().isEmpty()) w.stringField(3, v.docString());
    }

    private void tensor(ProtoWriter w, OnnxTensor t, boolean mayBeExternal) {
        w.packedVarints(1, t.dims());
        w.varintField(2, t.dataType().id());
        if (!t.name().isEmpty()) w.stringField(8, t.name());
        MemorySegment d = t.data();
        if (mayBeExternal && data != null && d.byteSize() >= externalThreshold) {
            long offset = appendExternal(d);
            if (!t.docString().isEmpty()) w.stringField(12, t.docString());
            w.messageField(13, x -> entry(x, "location", dataFileName));
            w.messageField(13, x -> entry(x, "offset", Long.toString(offset)));
            w.messageField(13, x -> entry(x, "length", Long.toString(d.byteSize())));
            w.varintField(14, 1);
            return;
        }
        if (d.byteSize() > PROTOBUF_LIMIT) throw new IllegalStateException(t.name() + " is over 2 GiB: write it as external data");
        w.bytesField(9, d.toArray(ValueLayout.JAVA_BYTE));
        if (!t.docString().isEmpty()) w.stringField(12, t.docString());
    }

    private long appendExternal(MemorySegment d) {
        try {
            long pad = (ALIGNMENT - dataOffset % ALIGNMENT) % ALIGNMENT;
            if (pad > 0) {
                data.write(java.nio.ByteBuffer.allocate((int) pad), dataOffset);
                dataOffset += pad;
            }
            long offset = dataOffset;
            long chunk = 1 << 24;
            for (long p = 0; p < d.byteSize(); p += chunk) {
                java.nio.ByteBuffer b = d.asSlice(p, Math.min(chunk, d.byteSize() - p)).asByteBuffer();
                while (b.hasRemaining()) dataOffset += data.write(b, dataOffset);
            }
            return offset;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
