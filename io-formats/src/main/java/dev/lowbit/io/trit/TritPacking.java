package dev.lowbit.io.trit;

/**
 * How the trits of one row are packed into bytes. A trit is stored as its code q = t + 1 ∈ {0, 1, 2} (t ∈ {−1, 0, +1});
 * a row of {@code cols} codes takes {@link #rowBytes} bytes, the unused positions of the last byte hold code 1 (t = 0)
 * (bit 0 in the 1-bit packing).
 */
public enum TritPacking {
    /**
     * Five trits a byte (1.6 bits per trit, as TQ1_0's {@code qs}): byte k of a row = Σₙ q[5k+n]·3ⁿ, n = 0..4, a value
     * in 0..242 (element 5k in the least significant base-3 digit). Bytes 243..255 are invalid.
     */
    BASE3("base3", 5, 1.6),
    /**
     * Four trits a byte (2 bits per trit, as TQ2_0 and BitNet's I2_S): element c at bits 2·(c mod 4) of byte c / 4.
     * Code 3 is invalid.
     */
    BITS2("2bit", 4, 2.0),
    /**
     * Eight signs a byte (1 bit per weight, for planes that are never 0: binarized weights): element c at bit c mod 8
     * of byte c / 8, bit 1 = code 2 (t = +1), bit 0 = code 0 (t = −1); padding bits 0. A code 1 (t = 0) cannot be stored.
     */
    BITS1("1bit", 8, 1.0);

    private final String wireName;
    private final int perByte;
    private final double bitsPerTrit;

    TritPacking(String wireName, int perByte, double bitsPerTrit) {
        this.wireName = wireName;
        this.perByte = perByte;
        this.bitsPerTrit = bitsPerTrit;
    }

    /** The name in {@code quantization_config.packing}. */
    public String wireName() {
        return wireName;
    }

    public double bitsPerTrit() {
        return bitsPerTrit;
    }

    public int rowBytes(int cols) {
        return Math.ceilDiv(cols, perByte);
    }

    public static TritPacking fromWire(String name) {
        for (TritPacking p : values()) if (p.wireName.equals(name)) return p;
        return null;
    }

    /** The packing whose bits per trit are {@code codeBits} (a scheme's {@code codeBits}). */
    public static TritPacking forCodeBits(double codeBits) {
        for (TritPacking p : values()) if (p.bitsPerTrit == codeBits) return p;
        throw new IllegalArgumentException("no trit packing stores " + codeBits + " bits per trit");
    }

    /** Packs {@code rows × cols} codes (0, 1, 2) into {@code rows × rowBytes(cols)} bytes. */
    public byte[] pack(byte[] codes, int rows, int cols) {
        int rb = rowBytes(cols);
        byte[] out = new byte[Math.multiplyExact(rows, rb)];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < rb; k++) {
                int v = 0;
                for (int n = perByte - 1; n >= 0; n--) {
                    int c = k * perByte + n;
                    int q = c < cols ? codes[r * cols + c] : this == BITS1 ? 0 : 1;
                    if (q < 0 || q > 2) throw new IllegalArgumentException("trit code " + q + " at [" + r + ", " + c + "]");
                    if (this == BITS1 && q == 1) throw new IllegalArgumentException("a 1-bit plane cannot hold t = 0 at [" + r + ", " + c + "]");
                    v = switch (this) {
                        case BASE3 -> v * 3 + q;
                        case BITS2 -> v | q << (2 * n);
                        case BITS1 -> v | (q >> 1) << n;
                    };
                }
                out[r * rb + k] = (byte) v;
            }
        }
        return out;
    }

    /**
     * Unpacks {@code rows × rowBytes(cols)} bytes into codes. Throws {@link IllegalArgumentException} naming the byte
     * for an invalid byte (a base-3 value above 242, a 2-bit code 3) or padding that is not code 1.
     */
    public byte[] unpack(byte[] packed, int rows, int cols) {
        int rb = rowBytes(cols);
        if (packed.length != (long) rows * rb) {
            throw new IllegalArgumentException(packed.length + " bytes for " + rows + " rows of " + rb);
        }
        byte[] out = new byte[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < rb; k++) {
                int v = packed[r * rb + k] & 0xFF;
                if (this == BASE3 && v > 242) throw new IllegalArgumentException("byte " + (r * rb + k) + " is " + v + " (base-3 bytes are 0..242)");
                for (int n = 0; n < perByte; n++) {
                    int q;
                    if (this == BASE3) {
                        q = v % 3;
                        v /= 3;
                    } else if (this == BITS2) {
                        q = v >>> (2 * n) & 3;
                        if (q == 3) throw new IllegalArgumentException("byte " + (r * rb + k) + " holds the invalid 2-bit code 3");
                    } else {
                        q = (v >>> n & 1) * 2;
                    }
                    int c = k * perByte + n;
                    int pad = this == BITS1 ? 0 : 1;
                    if (c < cols) out[r * cols + c] = (byte) q;
                    else if (q != pad) throw new IllegalArgumentException("byte " + (r * rb + k) + " has padding code " + q + " (must be " + pad + ")");
                }
            }
        }
        return out;
    }
}
