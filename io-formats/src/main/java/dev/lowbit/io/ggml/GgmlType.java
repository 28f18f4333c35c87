package dev.lowbit.io.ggml;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.io.quant.QuantScheme.Granularity;
import dev.lowbit.io.quant.QuantScheme.ScaleType;
import dev.lowbit.io.quant.QuantScheme.ZeroPoint;
import java.util.List;
import java.util.Optional;

/**
 * ggml tensor types with their on-disk id, block size (elements) and bytes per block, as llama.cpp defines them.
 * Ids are wire values: never use {@link #ordinal()}.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66),
    MXFP4(39, 32, 17),
    NVFP4(40, 64, 36),
    Q1_0(41, 128, 18),
    Q2_0(42, 64, 18);

    private final int id;
    private final int blockSize;
    private final int typeSize;

    GgmlType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    /** The ggml_type id written in GGUF tensor infos. */
    public int id() {
        return id;
    }

    /** Elements per block. */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block. */
    public int typeSize() {
        return typeSize;
    }

    /**
     * The quantization scheme a block of this type carries, stated from the spec (see {@code FORMATS.md}); its
     * {@link QuantScheme#bitsPerWeight()} equals {@link #bitsPerWeight()}. Empty for the unquantized types (F32, F16,
     * BF16, F64, I8…I64), for Q8_1 and Q8_K (matmul intermediates that also store precomputed sums of their codes),
     * and for the lattice-codebook types (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S: codes index grid
     * points of 4 or 8 elements, which a per-element scheme does not describe).
     */
    public Optional<QuantScheme> scheme() {
        return Optional.ofNullable(switch (this) {
            // legacy blocks of 32: ŵ = d·(q − 2^(b−1)) or d·q + m
            case Q4_0 -> legacy(4, ZeroPoint.NONE);
            case Q4_1 -> legacy(4, ZeroPoint.MIN);
            case Q5_0 -> legacy(5, ZeroPoint.NONE);
            case Q5_1 -> legacy(5, ZeroPoint.MIN);
            case Q8_0 -> legacy(8, ZeroPoint.NONE);
            // k-quants: super-block of 256, f16 d (and dmin), integer sub-block scales (and mins)
            case Q2_K -> kQuant(2, 16, 4, ZeroPoint.MIN);
            case Q3_K -> kQuant(3, 16, 6, ZeroPoint.NONE);
            case Q4_K -> kQuant(4, 32, 6, ZeroPoint.MIN);
            case Q5_K -> kQuant(5, 32, 6, ZeroPoint.MIN);
            case Q6_K -> kQuant(6, 16, 8, ZeroPoint.NONE);
            // non-uniform 4-bit grid: ŵ = d·T[q]
            case IQ4_NL -> new QuantScheme(ElementType.INT, 4, 4, ScaleType.F16, Granularity.group(32), ZeroPoint.NONE, 1, IQ4_LEVELS);
            case IQ4_XS -> new QuantScheme(ElementType.INT, 4, 4, ScaleType.F16, Granularity.superBlock(256, 32, 6),
                    ZeroPoint.NONE, 1, IQ4_LEVELS);
            // ternary: ŵ = d·(t − 1); TQ1_0 packs 5 trits a byte (the last 16 trits 4 a byte), TQ2_0 4 a byte
            case TQ1_0 -> new QuantScheme(ElementType.TERNARY, 2, (48 * 8 + 4 * 8) / 256.0, ScaleType.F16,
                    Granularity.group(256), ZeroPoint.NONE, 1, List.of());
            case TQ2_0 -> new QuantScheme(ElementType.TERNARY, 2, 2, ScaleType.F16, Granularity.group(256), ZeroPoint.NONE, 1, List.of());
            case Q2_0 -> new QuantScheme(ElementType.TERNARY, 2, 2, ScaleType.F16, Granularity.group(64), ZeroPoint.NONE, 1, List.of());
            case Q1_0 -> new QuantScheme(ElementType.BINARY, 1, 1, ScaleType.F16, Granularity.group(128), ZeroPoint.NONE, 1, List.of());
            // microscaling FP4
            case MXFP4 -> new QuantScheme(ElementType.E2M1, 4, 4, ScaleType.E8M0, Granularity.group(32), ZeroPoint.NONE, 1, List.of());
            case NVFP4 -> new QuantScheme(ElementType.E2M1, 4, 4, ScaleType.E4M3, Granularity.group(16), ZeroPoint.NONE, 1, List.of());
            case F32, F16, BF16, F64, I8, I16, I32, I64, Q8_1, Q8_K,
                 IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S -> null;
        });
    }

    private static final List<Float> IQ4_LEVELS = List.of(-127f, -104f, -83f, -65f, -49f, -35f, -22f, -10f,
            1f, 13f, 25f, 38f, 53f, 69f, 89f, 113f);

    private static QuantScheme legacy(int bits, ZeroPoint zero) {
        return new QuantScheme(ElementType.INT, bits, bits, ScaleType.F16, Granularity.group(32), zero, 1, List.of());
    }

    private static QuantScheme kQuant(int bits, int subBlock, int subScaleBits, ZeroPoint zero) {
        return new QuantScheme(ElementType.INT, bits, bits, ScaleType.F16, Granularity.superBlock(256, subBlock, subScaleBits),
                zero, 1, List.of());
    }

    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** Bits per weight: bytes per block × 8 / elements per block. */
    public double bitsPerWeight() {
        return typeSize * 8.0 / blockSize;
    }

    /** Bytes for {@code elements} values; {@code elements} must be a multiple of {@link #blockSize()}. */
    public long byteSizeOf(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(name() + ": " + elements + " elements is not a multiple of " + blockSize);
        }
        return Math.multiplyExact(elements / blockSize, (long) typeSize);
    }

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) BY_ID[t.id] = t;
    }

    /** The type for a wire id, or {@code null} if the id is unknown or a removed/forked type. */
    public static GgmlType byId(long id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[(int) id] : null;
    }

    /**
     * Explains an id that {@link #byId} does not know: removed repacked types (31–33, 36–38) and the BitNet fork's
     * dialect (I2_S 36, I8_S 37, TL1 38, TL2 39) get a name so the error tells the user what they have.
     */
    public static String describeUnknown(long id) {
        return switch ((int) Math.min(id, Integer.MAX_VALUE)) {
            case 4, 5 -> "ggml type " + id + " (Q4_2/Q4_3, removed from ggml)";
            case 31, 32, 33 -> "ggml type " + id + " (a removed repacked Q4_0_x_x type; requantize with current llama.cpp)";
            case 36, 37, 38 -> "ggml type " + id + " (removed repacked IQ4_NL type, or I2_S/I8_S/TL1 of the BitNet fork)";
            default -> "unknown ggml type id " + id;
        };
    }
}
