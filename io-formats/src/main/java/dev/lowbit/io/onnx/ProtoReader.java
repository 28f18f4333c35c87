package dev.lowbit.io.onnx;

import dev.lowbit.io.BadInputException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * A bounds-checked cursor over protobuf wire format (varint, 64-bit, length-delimited, 32-bit records). Every read
 * checks against the end of its message, so a truncated or lying length is a {@link BadInputException} naming the
 * byte offset, never an out-of-bounds read. Nested messages are read through {@link #message}, which bounds the nesting
 * depth.
 */
final class ProtoReader {
    static final int VARINT = 0, I64 = 1, LEN = 2, I32 = 5;
    private static final int MAX_DEPTH = 64;

    private final MemorySegment data;
    private final String source;
    private final int depth;
    private long pos;
    private final long end;
    private int tag;

    ProtoReader(MemorySegment data, String source) {
        this(data, source, 0, 0, data.byteSize());
    }

    private ProtoReader(MemorySegment data, String source, int depth, long start, long end) {
        this.data = data;
        this.source = source;
        this.depth = depth;
        this.pos = start;
        this.end = end;
    }

    /** Advances to the next field; false at the end of the message. */
    boolean next() {
        if (pos >= end) return false;
        long key = varint();
        int wire = (int) (key & 7);
        long field = key >>> 3;
        if (field < 1 || field > 536_870_911L || wire == 3 || wire == 4 || wire > 5) {
            throw bad("invalid field key " + key);
        }
        tag = (int) key;
        return true;
    }

    int field() {
        return tag >>> 3;
    }

    int wireType() {
        return tag & 7;
    }

    long position() {
        return pos;
    }

    long varint() {
        long result = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            if (pos >= end) throw bad("truncated varint");
            byte b = data.get(ValueLayout.JAVA_BYTE, pos++);
            if (shift == 63 && (b & 0x7e) != 0) throw bad("varint longer than 64 bits");
            result |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw bad("varint longer than 10 bytes");
    }

    /** A varint field value: checks the wire type. */
    long int64(String what) {
        expect(VARINT, what);
        return varint();
    }

    /** An int32 / enum field: a varint whose value must fit 32 bits (negative values are sign-extended on the wire). */
    int int32(String what) {
        long v = int64(what);
        if (v != (int) v) throw bad(what + " " + v + " does not fit 32 bits");
        return (int) v;
    }

    float float32(String what) {
        expect(I32, what);
        need(4);
        float f = data.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), pos);
        pos += 4;
        return f;
    }

    /** The bytes of a length-delimited field, as a slice (no copy). */
    MemorySegment bytes(String what) {
        expect(LEN, what);
        long n = length();
        MemorySegment s = data.asSlice(pos, n);
        pos += n;
        return s;
    }

    String string(String what) {
        MemorySegment s = bytes(what);
        if (s.byteSize() > Integer.MAX_VALUE - 8) throw bad(what + " longer than 2 GiB");
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(s.asByteBuffer()).toString();
        } catch (CharacterCodingException e) {
            throw bad(what + " is not valid UTF-8");
        }
    }

    /** A nested message: a reader bounded to its bytes, one level deeper. */
    ProtoReader message(String what) {
        expect(LEN, what);
        long n = length();
        if (depth + 1 > MAX_DEPTH) throw bad(what + " nested more than " + MAX_DEPTH + " levels deep");
        ProtoReader r = new ProtoReader(data, source, depth + 1, pos, pos + n);
        pos += n;
        return r;
    }

    /**
     * Repeated scalar values: either packed (one LEN record) or one record per value. {@code sink} gets each value as
     * raw bits: a varint, or the 4/8 little-endian bytes of a fixed-width value.
     */
    void repeated(int fixedWire, String what, java.util.function.LongConsumer sink) {
        if (wireType() == LEN) {
            long n = length();
            long stop = pos + n;
            while (pos < stop) sink.accept(scalar(fixedWire, stop, what));
        } else {
            expect(fixedWire, what);
            sink.accept(scalar(fixedWire, end, what));
        }
    }

    private long scalar(int wire, long limit, String what) {
        switch (wire) {
            case VARINT -> {
                long saved = pos;
                long v = varint();
                if (pos > limit) {
                    pos = saved;
                    throw bad(what + ": packed values overrun their length");
                }
                return v;
            }
            case I32 -> {
                if (pos + 4 > limit) throw bad(what + ": truncated packed value");
                int v = data.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), pos);
                pos += 4;
                return v & 0xffffffffL;
            }
            case I64 -> {
                if (pos + 8 > limit) throw bad(what + ": truncated packed value");
                long v = data.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), pos);
                pos += 8;
                return v;
            }
            default -> throw new IllegalArgumentException("not a scalar wire type: " + wire);
        }
    }

    /** Skips the current field's value (unknown fields are skipped, as protobuf requires). */
    void skip() {
        switch (wireType()) {
            case VARINT -> varint();
            case I64 -> { need(8); pos += 8; }
            case I32 -> { need(4); pos += 4; }
            case LEN -> pos += length();
            default -> throw bad("invalid wire type " + wireType());
        }
    }

    private long length() {
        long n = varint();
        if (n < 0 || n > end - pos) {
            throw bad("length " + Long.toUnsignedString(n) + " runs past the end of its message (" + (end - pos) + " bytes left)");
        }
        return n;
    }

    private void need(long n) {
        if (end - pos < n) throw bad("truncated: " + n + " bytes needed, " + (end - pos) + " left");
    }

    private void expect(int wire, String what) {
        if (wireType() != wire) throw bad(what + ": wire type " + wireType() + ", expected " + wire);
    }

    BadInputException bad(String reason) {
        return new BadInputException(source, "protobuf at byte " + pos + ": " + reason);
    }
}
