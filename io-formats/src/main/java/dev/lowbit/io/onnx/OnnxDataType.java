package dev.lowbit.io.onnx;

import dev.lowbit.io.BadInputException;

/**
 * {@code TensorProto.DataType}: the element types of ONNX tensors, each with its wire id (the enum number in the ONNX
 * schema) and its size in bits. 4-bit types pack two elements per byte, element 0 in the low nibble.
 */
public enum OnnxDataType {
    FLOAT(1, 32),
    UINT8(2, 8),
    INT8(3, 8),
    UINT16(4, 16),
    INT16(5, 16),
    INT32(6, 32),
    INT64(7, 64),
    STRING(8, 0),
    BOOL(9, 8),
    FLOAT16(10, 16),
    DOUBLE(11, 64),
    UINT32(12, 32),
    UINT64(13, 64),
    COMPLEX64(14, 64),
    COMPLEX128(15, 128),
    BFLOAT16(16, 16),
    FLOAT8E4M3FN(17, 8),
    FLOAT8E4M3FNUZ(18, 8),
    FLOAT8E5M2(19, 8),
    FLOAT8E5M2FNUZ(20, 8),
    UINT4(21, 4),
    INT4(22, 4),
    FLOAT4E2M1(23, 4),
    FLOAT8E8M0(24, 8);

    private final int id;
    private final int bits;

    OnnxDataType(int id, int bits) {
        this.id = id;
        this.bits = bits;
    }

    /** The wire id ({@code TensorProto.data_type}). */
    public int id() {
        return id;
    }

    public int bits() {
        return bits;
    }

    /** Bytes that {@code elements} values take in {@code raw_data} (4-bit types rounded up to a whole byte). */
    public long byteSizeOf(long elements) {
        if (this == STRING) throw new IllegalStateException("STRING has no fixed size");
        return Math.ceilDiv(Math.multiplyExact(elements, (long) bits), 8L);
    }

    /** The type for wire id {@code id}; {@code what} names the tensor or value in the error. */
    public static OnnxDataType of(int id, String source, String what) {
        for (OnnxDataType t : values()) {
            if (t.id == id) return t;
        }
        throw new BadInputException(source, what + ": unknown data_type " + id);
    }
}
