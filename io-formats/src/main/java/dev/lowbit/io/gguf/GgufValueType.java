package dev.lowbit.io.gguf;

/**
 * GGUF metadata value types ({@code gguf_type}) with their wire id. Ids are wire values: never use {@link #ordinal()}.
 * {@link #minBytes()} is the smallest encoding of one value (a string is at least its u64 length, an array at least
 * its u32 element type and u64 count), which bounds any claimed count by the bytes left in the file.
 */
public enum GgufValueType {
    UINT8(0, 1),
    INT8(1, 1),
    UINT16(2, 2),
    INT16(3, 2),
    UINT32(4, 4),
    INT32(5, 4),
    FLOAT32(6, 4),
    BOOL(7, 1),
    STRING(8, 8),
    ARRAY(9, 12),
    UINT64(10, 8),
    INT64(11, 8),
    FLOAT64(12, 8);

    private final int id;
    private final int minBytes;

    GgufValueType(int id, int minBytes) {
        this.id = id;
        this.minBytes = minBytes;
    }

    /** The u32 written before a value (or as an array's element type). */
    public int id() {
        return id;
    }

    /** Bytes of one value for fixed-size types; the lower bound of one encoded value for STRING and ARRAY. */
    public int minBytes() {
        return minBytes;
    }

    /** Whether values have a fixed size of {@link #minBytes()}. */
    public boolean isFixedSize() {
        return this != STRING && this != ARRAY;
    }

    private static final GgufValueType[] BY_ID = new GgufValueType[13];

    static {
        for (GgufValueType t : values()) BY_ID[t.id] = t;
    }

    /** The type for a wire id, or {@code null} when unknown. */
    public static GgufValueType byId(long id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[(int) id] : null;
    }
}
