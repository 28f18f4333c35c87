package dev.lowbit.io.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.ggml.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Sequential little-endian reader over a GGUF image. Every read checks the bytes left first; every claimed count or
 * length is checked against the bytes left (times the smallest encoding of one element) before anything is allocated.
 */
final class GgufCursor {
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble DOUBLE_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Java arrays cannot hold more. */
    private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    private final Path path;
    private final MemorySegment seg;
    private long pos;
    /** Strict: a token or key that is not UTF-8 is reported, never silently replaced (a round trip must be exact). */
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);

    GgufCursor(Path path, MemorySegment seg) {
        this.path = path;
        this.seg = seg;
    }

    long position() {
        return pos;
    }

    private long remaining() {
        return seg.byteSize() - pos;
    }

    private void need(long n, String what) {
        if (n > remaining()) {
            throw new BadInputException(path, "truncated: " + what + " needs " + n + " bytes at offset " + pos + " but only "
                    + remaining() + " remain");
        }
    }

    int u8(String what) {
        need(1, what);
        return seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF;
    }

    int u32(String what) {
        need(4, what);
        int v = seg.get(INT_LE, pos);
        pos += 4;
        return v;
    }

    long u64(String what) {
        need(8, what);
        long v = seg.get(LONG_LE, pos);
        pos += 8;
        return v;
    }

    /** A u64 count of items each taking at least {@code minBytes}: must fit in the rest of the file. */
    long count(String what, int minBytes) {
        long n = u64(what);
        if (n < 0 || n > remaining() / minBytes) {
            throw new BadInputException(path, what + " " + Long.toUnsignedString(n) + " is impossible: " + remaining()
                    + " bytes remain and each takes at least " + minBytes);
        }
        if (n > MAX_ELEMENTS) throw new BadInputException(path, what + " " + n + " exceeds what lowbit can hold");
        return n;
    }

    /** A GGUF string: u64 byte length, then strict UTF-8 bytes. */
    String string(String what) {
        long len = u64("length of " + what);
        if (len < 0 || len > remaining()) {
            throw new BadInputException(path, what + ": string length " + Long.toUnsignedString(len) + " exceeds the "
                    + remaining() + " bytes left in the file");
        }
        if (len > MAX_ELEMENTS) throw new BadInputException(path, what + ": string of " + len + " bytes is too long");
        ByteBuffer bytes = seg.asSlice(pos, len).asByteBuffer();
        pos += len;
        try {
            return utf8.decode(bytes).toString();
        } catch (CharacterCodingException e) {
            throw new BadInputException(path, what + " is not valid UTF-8");
        }
    }

    /** One value of {@code type}; {@code depth} counts enclosing arrays. */
    GgufValue value(String key, GgufValueType type, int depth) {
        String what = "value of '" + key + "'";
        return switch (type) {
            case UINT8, INT8 -> new GgufValue(type, (byte) u8(what));
            case UINT16, INT16 -> {
                need(2, what);
                short v = seg.get(SHORT_LE, pos);
                pos += 2;
                yield new GgufValue(type, v);
            }
            case UINT32, INT32 -> new GgufValue(type, u32(what));
            case UINT64, INT64 -> new GgufValue(type, u64(what));
            case FLOAT32 -> new GgufValue(type, Float.intBitsToFloat(u32(what)));
            case FLOAT64 -> new GgufValue(type, Double.longBitsToDouble(u64(what)));
            case BOOL -> new GgufValue(type, bool(u8(what), key));
            case STRING -> new GgufValue(type, string(what));
            case ARRAY -> new GgufValue(type, array(key, depth));
        };
    }

    private boolean bool(int b, String key) {
        if (b > 1) throw new BadInputException(path, "'" + key + "': BOOL byte " + b + " is neither 0 nor 1");
        return b == 1;
    }

    private GgufArray array(String key, int depth) {
        if (depth >= GgufFile.MAX_ARRAY_DEPTH) {
            throw new BadInputException(path, "'" + key + "': arrays nested deeper than " + GgufFile.MAX_ARRAY_DEPTH);
        }
        int typeId = u32("element type of '" + key + "'");
        GgufValueType et = GgufValueType.byId(Integer.toUnsignedLong(typeId));
        if (et == null) {
            throw new BadInputException(path, "'" + key + "': array has unknown element type " + Integer.toUnsignedString(typeId));
        }
        int n = (int) count("element count of '" + key + "'", et.minBytes());
        String what = "array '" + key + "'";
        Object values = switch (et) {
            case UINT8, INT8 -> {
                byte[] a = seg.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
                pos += n;
                yield a;
            }
            case UINT16, INT16 -> {
                short[] a = new short[n];
                MemorySegment.copy(seg, SHORT_LE, pos, a, 0, n);
                pos += 2L * n;
                yield a;
            }
            case UINT32, INT32 -> {
                int[] a = new int[n];
                MemorySegment.copy(seg, INT_LE, pos, a, 0, n);
                pos += 4L * n;
                yield a;
            }
            case UINT64, INT64 -> {
                long[] a = new long[n];
                MemorySegment.copy(seg, LONG_LE, pos, a, 0, n);
                pos += 8L * n;
                yield a;
            }
            case FLOAT32 -> {
                float[] a = new float[n];
                MemorySegment.copy(seg, FLOAT_LE, pos, a, 0, n);
                pos += 4L * n;
                yield a;
            }
            case FLOAT64 -> {
                double[] a = new double[n];
                MemorySegment.copy(seg, DOUBLE_LE, pos, a, 0, n);
                pos += 8L * n;
                yield a;
            }
            case BOOL -> {
                boolean[] a = new boolean[n];
                for (int i = 0; i < n; i++) a[i] = bool(u8(what), key);
                yield a;
            }
            case STRING -> {
                String[] a = new String[n];
                for (int i = 0; i < n; i++) a[i] = string(what + " element " + i);
                yield a;
            }
            case ARRAY -> {
                GgufArray[] a = new GgufArray[n];
                for (int i = 0; i < n; i++) a[i] = array(key, depth + 1);
                yield a;
            }
        };
        return GgufArray.wrap(et, values);
    }

    /** One tensor info: name, u32 n_dims (≤ 4), u64 dims, u32 ggml_type, u64 offset; shape and type validated. */
    GgufTensorInfo tensorInfo(long index, boolean bitnet) {
        String name = string("name of tensor " + index);
        int nDims = u32("n_dims of '" + name + "'");
        if (nDims < 0 || nDims > GgufFile.MAX_DIMS) {
            throw new BadInputException(path, "tensor '" + name + "' has " + Integer.toUnsignedString(nDims)
                    + " dimensions (at most " + GgufFile.MAX_DIMS + ")");
        }
        long[] dims = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++) {
            dims[d] = u64("dims of '" + name + "'");
            if (dims[d] < 0) {
                throw new BadInputException(path, "tensor '" + name + "' dimension " + d + " = " + Long.toUnsignedString(dims[d])
                        + " is negative as int64");
            }
            if (dims[d] != 0 && elements > Long.MAX_VALUE / dims[d]) {
                throw new BadInputException(path, "tensor '" + name + "' element count overflows int64");
            }
            elements *= dims[d];
        }
        int typeId = u32("type of '" + name + "'");
        GgmlType type = GgmlType.byId(Integer.toUnsignedLong(typeId));
        if (type == null) {
            throw new BadInputException(path, "tensor '" + name + "' has "
                    + GgmlType.describeUnknown(Integer.toUnsignedLong(typeId)));
        }
        if (bitnet && type == GgmlType.MXFP4) {
            throw new BadInputException(path, "tensor '" + name + "': ggml type 39 in a BitNet model is the BitNet fork's TL2,"
                    + " not MXFP4; lowbit does not read that dialect");
        }
        long row = nDims == 0 ? 1 : dims[0];
        if (row % type.blockSize() != 0) {
            throw new BadInputException(path, "tensor '" + name + "' dims[0] = " + row + " is not a multiple of the "
                    + type + " block size " + type.blockSize());
        }
        if (elements / type.blockSize() > Long.MAX_VALUE / type.typeSize()) {
            throw new BadInputException(path, "tensor '" + name + "' byte size overflows int64");
        }
        long offset = u64("offset of '" + name + "'");
        return new GgufTensorInfo(name, dims, type, offset);
    }
}
