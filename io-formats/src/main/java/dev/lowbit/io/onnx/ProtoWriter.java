package dev.lowbit.io.onnx;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Protobuf wire format out: fields in the order they are written, nested messages length-prefixed. Fields equal to
 * their proto3 default are still written when the caller asks (the caller decides what to omit).
 */
final class ProtoWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    byte[] toByteArray() {
        return out.toByteArray();
    }

    int size() {
        return out.size();
    }

    void varintField(int field, long v) {
        key(field, ProtoReader.VARINT);
        varint(v);
    }

    void floatField(int field, float v) {
        key(field, ProtoReader.I32);
        fixed32(Float.floatToRawIntBits(v));
    }

    void stringField(int field, String s) {
        bytesField(field, s.getBytes(StandardCharsets.UTF_8));
    }

    void bytesField(int field, byte[] b) {
        key(field, ProtoReader.LEN);
        varint(b.length);
        out.write(b, 0, b.length);
    }

    /** A nested message written by {@code body}. */
    void messageField(int field, Consumer<ProtoWriter> body) {
        ProtoWriter inner = new ProtoWriter();
        body.accept(inner);
        bytesField(field, inner.toByteArray());
    }

    /** Packed repeated varints (int64 / int32 / enum). */
    void packedVarints(int field, long[] values) {
        if (values.length == 0) return;
        ProtoWriter inner = new ProtoWriter();
        for (long v : values) inner.varint(v);
        bytesField(field, inner.toByteArray());
    }

    /** Packed repeated floats. */
    void packedFloats(int field, float[] values) {
        if (values.length == 0) return;
        ProtoWriter inner = new ProtoWriter();
        for (float v : values) inner.fixed32(Float.floatToRawIntBits(v));
        bytesField(field, inner.toByteArray());
    }

    private void key(int field, int wire) {
        varint(((long) field << 3) | wire);
    }

    private void varint(long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private void fixed32(int v) {
        out.write(v);
        out.write(v >>> 8);
        out.write(v >>> 16);
        out.write(v >>> 24);
    }
}
