package dev.lowbit.io.tensor;

import dev.lowbit.io.BadInputException;
import java.util.Set;

/**
 * Element types of dense tensors, with their safetensors wire names and sizes in bits.
 * Wire names are exactly the strings the safetensors reference implementation writes.
 */
public enum DType {
    F64("F64", 64, true),
    F32("F32", 32, true),
    F16("F16", 16, true),
    BF16("BF16", 16, true),
    F8_E4M3("F8_E4M3", 8, true),
    F8_E5M2("F8_E5M2", 8, true),
    I64("I64", 64, false),
    I32("I32", 32, false),
    I16("I16", 16, false),
    I8("I8", 8, false),
    U8("U8", 8, false),
    BOOL("BOOL", 8, false);

    /** safetensors dtypes that exist but that lowbit does not read; named in the error so the user knows why. */
    private static final Set<String> KNOWN_UNSUPPORTED = Set.of(
            "F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "C64", "U16", "U32", "U64");

    private final String wireName;
    private final int bits;
    private final boolean floating;

    DType(String wireName, int bits, boolean floating) {
        this.wireName = wireName;
        this.bits = bits;
        this.floating = floating;
    }

    public String wireName() {
        return wireName;
    }

    public int bits() {
        return bits;
    }

    public int byteSize() {
        return bits / 8;
    }

    public boolean isFloatingPoint() {
        return floating;
    }

    /** Byte size of {@code elements} values, computed in bits and rounded up to whole bytes. */
    public long byteSizeOf(long elements) {
        return Math.ceilDiv(Math.multiplyExact(elements, (long) bits), 8L);
    }

    /**
     * The dtype for a safetensors wire name.
     *
     * @param source file named in the error when the name is unknown
     */
    public static DType fromWireName(String name, String source) {
        for (DType t : values()) {
            if (t.wireName.equals(name)) return t;
        }
        if (KNOWN_UNSUPPORTED.contains(name)) {
            throw new BadInputException(source, "dtype " + name + " is not supported by lowbit");
        }
        throw new BadInputException(source, "unknown dtype '" + name + "'");
    }
}
