package dev.lowbit.io.gguf;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Test helper: hand-assembles (possibly hostile) GGUF images field by field. */
final class GgufBytes {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** "GGUF", version 3, the two counts. */
    static GgufBytes header(long tensors, long kvs) {
        return new GgufBytes().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(3).u64(tensors).u64(kvs);
    }

    GgufBytes raw(byte[] b) {
        out.writeBytes(b);
        return this;
    }

    GgufBytes u8(int v) {
        out.write(v);
        return this;
    }

    GgufBytes u32(long v) {
        return raw(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
    }

    GgufBytes u64(long v) {
        return raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
    }

    GgufBytes str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return u64(b.length).raw(b);
    }

    /** A KV whose value is a u32. */
    GgufBytes kvU32(String key, long v) {
        return str(key).u32(GgufValueType.UINT32.id()).u32(v);
    }

    /** A tensor info. */
    GgufBytes tensor(String name, int type, long offset, long... dims) {
        str(name).u32(dims.length);
        for (long d : dims) u64(d);
        return u32(type).u64(offset);
    }

    /** Zero bytes up to the next multiple of {@code alignment}. */
    GgufBytes pad(int alignment) {
        while (out.size() % alignment != 0) out.write(0);
        return this;
    }

    GgufBytes zeros(int n) {
        out.writeBytes(new byte[n]);
        return this;
    }

    byte[] bytes() {
        return out.toByteArray();
    }

    MemorySegment segment() {
        return MemorySegment.ofArray(bytes());
    }
}
