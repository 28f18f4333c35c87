package dev.lowbit.io.gguf;

import java.util.List;
import java.util.Objects;

/**
 * A typed GGUF metadata value. The Java class of {@code value} follows the type: UINT8/INT8 {@link Byte},
 * UINT16/INT16 {@link Short}, UINT32/INT32 {@link Integer}, UINT64/INT64 {@link Long} (unsigned types keep their bit
 * pattern), FLOAT32 {@link Float}, FLOAT64 {@link Double}, BOOL {@link Boolean}, STRING {@link String}, ARRAY
 * {@link GgufArray}. Keeping the wire type matters: llama.cpp rejects a key with the wrong type.
 */
public record GgufValue(GgufValueType type, Object value) {
    public GgufValue {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(value, "value");
        Class<?> want = switch (type) {
            case UINT8, INT8 -> Byte.class;
            case UINT16, INT16 -> Short.class;
            case UINT32, INT32 -> Integer.class;
            case UINT64, INT64 -> Long.class;
            case FLOAT32 -> Float.class;
            case FLOAT64 -> Double.class;
            case BOOL -> Boolean.class;
            case STRING -> String.class;
            case ARRAY -> GgufArray.class;
        };
        if (value.getClass() != want) {
            throw new IllegalArgumentException("GGUF " + type + " value needs a " + want.getSimpleName() + ", got "
                    + value.getClass().getSimpleName());
        }
    }

    public static GgufValue ofUint8(int v) {
        return new GgufValue(GgufValueType.UINT8, (byte) checkRange(v, 0, 0xFF));
    }

    public static GgufValue ofInt8(int v) {
        return new GgufValue(GgufValueType.INT8, (byte) checkRange(v, Byte.MIN_VALUE, Byte.MAX_VALUE));
    }

    public static GgufValue ofUint16(int v) {
        return new GgufValue(GgufValueType.UINT16, (short) checkRange(v, 0, 0xFFFF));
    }

    public static GgufValue ofInt16(int v) {
        return new GgufValue(GgufValueType.INT16, (short) checkRange(v, Short.MIN_VALUE, Short.MAX_VALUE));
    }

    public static GgufValue ofUint32(long v) {
        return new GgufValue(GgufValueType.UINT32, (int) checkRange(v, 0, 0xFFFF_FFFFL));
    }

    public static GgufValue ofInt32(int v) {
        return new GgufValue(GgufValueType.INT32, v);
    }

    /** A UINT64 from its bit pattern (values ≥ 2^63 are negative longs). */
    public static GgufValue ofUint64(long bits) {
        return new GgufValue(GgufValueType.UINT64, bits);
    }

    public static GgufValue ofInt64(long v) {
        return new GgufValue(GgufValueType.INT64, v);
    }

    public static GgufValue ofFloat32(float v) {
        return new GgufValue(GgufValueType.FLOAT32, v);
    }

    public static GgufValue ofFloat64(double v) {
        return new GgufValue(GgufValueType.FLOAT64, v);
    }

    public static GgufValue ofBool(boolean v) {
        return new GgufValue(GgufValueType.BOOL, v);
    }

    public static GgufValue ofString(String v) {
        return new GgufValue(GgufValueType.STRING, v);
    }

    public static GgufValue ofArray(GgufArray v) {
        return new GgufValue(GgufValueType.ARRAY, v);
    }

    public static GgufValue ofStrings(List<String> v) {
        return ofArray(GgufArray.ofStrings(v));
    }

    /** Any integer type as a long, unsigned types zero-extended; UINT64 values ≥ 2^63 throw. */
    public long asLong() {
        return switch (type) {
            case UINT8 -> (Byte) value & 0xFFL;
            case INT8 -> (Byte) value;
            case UINT16 -> (Short) value & 0xFFFFL;
            case INT16 -> (Short) value;
            case UINT32 -> (Integer) value & 0xFFFF_FFFFL;
            case INT32 -> (Integer) value;
            case INT64 -> (Long) value;
            case UINT64 -> {
                long v = (Long) value;
                if (v < 0) throw new ArithmeticException("UINT64 " + Long.toUnsignedString(v) + " exceeds a long");
                yield v;
            }
            default -> throw new IllegalStateException("GGUF " + type + " is not an integer");
        };
    }

    /** Any integer type as an int; throws if it does not fit. */
    public int asInt() {
        return Math.toIntExact(asLong());
    }

    /** FLOAT32 or FLOAT64 as a double. */
    public double asDouble() {
        return switch (type) {
            case FLOAT32 -> (Float) value;
            case FLOAT64 -> (Double) value;
            default -> throw new IllegalStateException("GGUF " + type + " is not a float");
        };
    }

    public float asFloat() {
        if (type != GgufValueType.FLOAT32) throw new IllegalStateException("GGUF " + type + " is not FLOAT32");
        return (Float) value;
    }

    public boolean asBool() {
        if (type != GgufValueType.BOOL) throw new IllegalStateException("GGUF " + type + " is not BOOL");
        return (Boolean) value;
    }

    public String asString() {
        if (type != GgufValueType.STRING) throw new IllegalStateException("GGUF " + type + " is not STRING");
        return (String) value;
    }

    public GgufArray asArray() {
        if (type != GgufValueType.ARRAY) throw new IllegalStateException("GGUF " + type + " is not ARRAY");
        return (GgufArray) value;
    }

    private static long checkRange(long v, long lo, long hi) {
        if (v < lo || v > hi) throw new IllegalArgumentException(v + " is out of range [" + lo + ", " + hi + "]");
        return v;
    }
}
