package dev.lowbit.io.gguf;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A GGUF array value: its element type and the elements in a Java array of the matching kind, so that a round trip
 * keeps the element type exactly. Backing arrays by element type: UINT8/INT8 {@code byte[]}, UINT16/INT16
 * {@code short[]}, UINT32/INT32 {@code int[]}, UINT64/INT64 {@code long[]}, FLOAT32 {@code float[]}, FLOAT64
 * {@code double[]}, BOOL {@code boolean[]}, STRING {@code String[]}, ARRAY {@code GgufArray[]} (nested arrays: the
 * spec allows them, ggml's reader rejects them). Unsigned values are kept as their bit patterns.
 * The backing array is never exposed; accessors return copies.
 */
public final class GgufArray {
    private final GgufValueType elementType;
    private final Object values;
    private final int size;

    private GgufArray(GgufValueType elementType, Object values) {
        this.elementType = Objects.requireNonNull(elementType);
        Class<?> want = backingClass(elementType);
        if (values == null || values.getClass() != want) {
            throw new IllegalArgumentException("GGUF " + elementType + " array needs a " + want.getSimpleName()
                    + ", got " + (values == null ? "null" : values.getClass().getSimpleName()));
        }
        this.values = values;
        this.size = java.lang.reflect.Array.getLength(values);
        if (values instanceof Object[] objs) {
            for (Object o : objs) Objects.requireNonNull(o, "null element in a GGUF array");
        }
    }

    /** An array of {@code elementType} backed by a copy of {@code values} (the matching Java array kind). */
    public static GgufArray of(GgufValueType elementType, Object values) {
        return new GgufArray(elementType, copy(values));
    }

    /** Wraps without copying; the reader hands over arrays it built itself. */
    static GgufArray wrap(GgufValueType elementType, Object values) {
        return new GgufArray(elementType, values);
    }

    public static GgufArray ofStrings(List<String> values) {
        return new GgufArray(GgufValueType.STRING, values.toArray(String[]::new));
    }

    public static GgufArray ofInt32(int... values) {
        return of(GgufValueType.INT32, values);
    }

    public static GgufArray ofFloat32(float... values) {
        return of(GgufValueType.FLOAT32, values);
    }

    public GgufValueType elementType() {
        return elementType;
    }

    public int size() {
        return size;
    }

    /** Element {@code i} as a typed value. */
    public GgufValue get(int i) {
        Objects.checkIndex(i, size);
        return switch (elementType) {
            case UINT8, INT8 -> new GgufValue(elementType, ((byte[]) values)[i]);
            case UINT16, INT16 -> new GgufValue(elementType, ((short[]) values)[i]);
            case UINT32, INT32 -> new GgufValue(elementType, ((int[]) values)[i]);
            case UINT64, INT64 -> new GgufValue(elementType, ((long[]) values)[i]);
            case FLOAT32 -> new GgufValue(elementType, ((float[]) values)[i]);
            case FLOAT64 -> new GgufValue(elementType, ((double[]) values)[i]);
            case BOOL -> new GgufValue(elementType, ((boolean[]) values)[i]);
            case STRING -> new GgufValue(elementType, ((String[]) values)[i]);
            case ARRAY -> new GgufValue(elementType, ((GgufArray[]) values)[i]);
        };
    }

    /** The elements of a STRING array. */
    public List<String> asStrings() {
        require(GgufValueType.STRING);
        return List.of((String[]) values);
    }

    /** The elements of an INT32 or UINT32 array (bit patterns). */
    public int[] asInts() {
        if (elementType != GgufValueType.INT32 && elementType != GgufValueType.UINT32) require(GgufValueType.INT32);
        return ((int[]) values).clone();
    }

    /** The elements of a FLOAT32 array. */
    public float[] asFloats() {
        require(GgufValueType.FLOAT32);
        return ((float[]) values).clone();
    }

    /** A copy of the backing array (its kind is given by {@link #elementType()}). */
    public Object toArray() {
        return copy(values);
    }

    /** The backing array itself, for the writer; callers in this package must not modify it. */
    Object backing() {
        return values;
    }

    private void require(GgufValueType t) {
        if (elementType != t) throw new IllegalStateException("GGUF array of " + elementType + ", not " + t);
    }

    static Class<?> backingClass(GgufValueType t) {
        return switch (t) {
            case UINT8, INT8 -> byte[].class;
            case UINT16, INT16 -> short[].class;
            case UINT32, INT32 -> int[].class;
            case UINT64, INT64 -> long[].class;
            case FLOAT32 -> float[].class;
            case FLOAT64 -> double[].class;
            case BOOL -> boolean[].class;
            case STRING -> String[].class;
            case ARRAY -> GgufArray[].class;
        };
    }

    private static Object copy(Object a) {
        if (a == null) return null;
        int n = java.lang.reflect.Array.getLength(a);
        Object c = java.lang.reflect.Array.newInstance(a.getClass().getComponentType(), n);
        System.arraycopy(a, 0, c, 0, n);
        return c;
    }

    /** Equal when the element types match and the elements are equal (floats compared by bit pattern). */
    @Override
    public boolean equals(Object o) {
        return o instanceof GgufArray a && a.elementType == elementType
                && Arrays.deepEquals(new Object[] {values}, new Object[] {a.values});
    }

    @Override
    public int hashCode() {
        return 31 * elementType.hashCode() + Arrays.deepHashCode(new Object[] {values});
    }

    @Override
    public String toString() {
        String body = size <= 8 ? Arrays.deepToString(new Object[] {values}) : "[" + size + " elements]";
        return elementType + body;
    }
}
