package dev.lowbit.io.quant;

import java.util.List;
import java.util.Objects;

/**
 * How a weight matrix is quantized, as data: what each code means ({@link ElementType} and bits), how scales are stored
 * ({@link ScaleType}) and shared ({@link Granularity}), whether groups carry a zero point or min ({@link ZeroPoint}),
 * and how many code planes are summed ({@code planes}, e.g. 2 for W ≈ α₁·T₁ + α₂·T₂).
 *
 * <p>{@code new QuantScheme(bits, groupSize, symmetric)} is the GPTQ reference's integer grid and means what it always
 * has: INT codes q ∈ [0, 2^bits − 1], f16 scales (what GPTQ, AWQ and compressed-tensors checkpoints store), one group of
 * {@code groupSize} input columns per scale ({@code −1}: one per output channel), and either a fixed midpoint
 * 2^(bits−1) (symmetric) or an integer zero point per group (asymmetric); ŵ = scale · (q − zero).
 *
 * <p>Every ggml block type states its scheme in {@code GgmlType.scheme()}; {@link #bitsPerWeight()} then gives the
 * type's storage cost from the scheme alone (for Q4_K: 4 + (6 + 6)/32 + (16 + 16)/256 = 4.5).
 *
 * @param element     what a code decodes to before scaling
 * @param bits        code width: the integer grid's bits, 4 for E2M1, 8 for E4M3/E5M2, 2 for ternary codes {0,1,2}, 1
 *                    for binary
 * @param codeBits    bits a code occupies in storage, usually {@code bits}; less where a format packs codes tighter
 *                    (TQ1_0 stores 5 trits a byte and its last 16 trits 4 a byte: 1.625 bits per trit)
 * @param scaleType   how the (super-block) scale is stored
 * @param granularity which elements share a scale
 * @param zeroPoint   none (symmetric), an integer zero point per group, or a float min per group
 * @param planes      code planes summed to form the weight, each with its own scales (1 for ordinary schemes)
 * @param levels      the values of the codes of a non-uniform grid, by code (IQ4_NL's table); empty for uniform grids
 */
public record QuantScheme(ElementType element, int bits, double codeBits, ScaleType scaleType, Granularity granularity,
                          ZeroPoint zeroPoint, int planes, List<Float> levels) {

    /** What a code is, before scaling. */
    public enum ElementType {
        /** An integer q ∈ [0, 2^bits − 1] (minus the zero point), or an index into {@code levels}. */
        INT,
        /** OCP FP4: 1 sign, 2 exponent, 1 mantissa bit; values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}. */
        E2M1,
        /** FP8 E4M3 (max 448). */
        E4M3,
        /** FP8 E5M2 (max 57344). */
        E5M2,
        /** OCP FP6 E2M3 (max 7.5, no Inf/NaN). */
        E2M3,
        /** OCP FP6 E3M2 (max 28, no Inf/NaN). */
        E3M2,
        /** A trit t ∈ {0, 1, 2} meaning t − 1 ∈ {−1, 0, +1}. */
        TERNARY,
        /** A bit b meaning −1 (0) or +1 (1). */
        BINARY
    }

    /** How a scale is stored; {@code bits} is its width. */
    public enum ScaleType {
        F16(16), BF16(16), F32(32),
        /** An unsigned power of two 2^(e − 127) in one byte (OCP MX). */
        E8M0(8),
        /** FP8 E4M3 (NVFP4's block scales). */
        E4M3(8);

        private final int bits;

        ScaleType(int bits) {
            this.bits = bits;
        }

        public int bits() {
            return bits;
        }
    }

    /** Where the zero of a group comes from. */
    public enum ZeroPoint {
        /** None: symmetric codes (a fixed midpoint such as 2^(bits−1), or signed codes). */
        NONE,
        /** An integer zero point per group, {@code bits} wide (GPTQ's {@code qzeros}): ŵ = s·(q − z). */
        INTEGER,
        /** A float min per group, stored like the scale (ggml's {@code m}, {@code dmin}): ŵ = s·q − m. */
        MIN
    }

    /** Which elements share one scale. */
    public sealed interface Granularity {
        /** One scale for the whole tensor. */
        record Tensor() implements Granularity {}

        /** One scale per output channel (row). */
        record Channel() implements Granularity {}

        /** One scale per {@code size} consecutive elements of a row. */
        record Group(int size) implements Granularity {
            public Group {
                if (size <= 0) throw new IllegalArgumentException("group size must be positive, got " + size);
            }
        }

        /**
         * A super-block of {@code size} elements with one scale (and min) of the scheme's scale type, split into
         * sub-blocks of {@code subBlockSize} elements each with its own {@code subScaleBits}-bit integer scale (and
         * min) relative to it: ŵ = d·sc·q − dmin·m. The ggml k-quants.
         */
        record SuperBlock(int size, int subBlockSize, int subScaleBits) implements Granularity {
            public SuperBlock {
                if (subBlockSize <= 0 || size <= 0 || size % subBlockSize != 0) {
                    throw new IllegalArgumentException("super-block of " + size + " does not split into sub-blocks of " + subBlockSize);
                }
                if (subScaleBits < 1 || subScaleBits > 16) throw new IllegalArgumentException("sub-block scale bits must be 1..16, got " + subScaleBits);
            }

            public int subBlocks() {
                return size / subBlockSize;
            }
        }

        Granularity TENSOR = new Tensor();
        Granularity CHANNEL = new Channel();

        static Granularity group(int size) {
            return new Group(size);
        }

        static Granularity superBlock(int size, int subBlockSize, int subScaleBits) {
            return new SuperBlock(size, subBlockSize, subScaleBits);
        }
    }

    public QuantScheme {
        Objects.requireNonNull(element, "element");
        Objects.requireNonNull(scaleType, "scaleType");
        Objects.requireNonNull(granularity, "granularity");
        Objects.requireNonNull(zeroPoint, "zeroPoint");
        levels = List.copyOf(levels);
        if (bits < 1 || bits > 8) throw new IllegalArgumentException("bits must be 1..8, got " + bits);
        if (!(codeBits > 0) || codeBits > bits) throw new IllegalArgumentException("code bits must be in (0, " + bits + "], got " + codeBits);
        if (planes < 1) throw new IllegalArgumentException("planes must be at least 1, got " + planes);
        switch (element) {
            case E2M1 -> require(bits == 4, "E2M1 codes are 4 bits");
            case E4M3, E5M2 -> require(bits == 8, element + " codes are 8 bits");
            case E2M3, E3M2 -> require(bits == 6, element + " codes are 6 bits");
            case TERNARY -> require(bits == 2, "ternary codes are 2 bits (t ∈ {0, 1, 2})");
            case BINARY -> require(bits == 1, "binary codes are 1 bit");
            case INT -> { }
        }
        require(element == ElementType.INT || zeroPoint != ZeroPoint.INTEGER, element + " codes take no integer zero point");
        require(levels.isEmpty() || (element == ElementType.INT && levels.size() == 1 << bits),
                "a level table needs INT codes and 2^bits = " + (1 << bits) + " levels, got " + levels.size());
        for (Float l : levels) require(l != null && Float.isFinite(l), "levels must be finite");
    }

    /**
     * The GPTQ reference's integer grid: INT {@code bits}, f16 scales, groups of {@code groupSize} columns ({@code −1}
     * per output channel), fixed midpoint (symmetric) or integer zero points.
     */
    public QuantScheme(int bits, int groupSize, boolean symmetric) {
        this(ElementType.INT, bits, bits, ScaleType.F16, integerGranularity(groupSize),
                symmetric ? ZeroPoint.NONE : ZeroPoint.INTEGER, 1, List.of());
    }

    private static Granularity integerGranularity(int groupSize) {
        if (groupSize == 0 || groupSize < -1) throw new IllegalArgumentException("group size must be -1 or positive, got " + groupSize);
        return groupSize == -1 ? Granularity.CHANNEL : Granularity.group(groupSize);
    }

    private static void require(boolean ok, String why) {
        if (!ok) throw new IllegalArgumentException(why);
    }

    /** No zero point per group. */
    public boolean symmetric() {
        return zeroPoint == ZeroPoint.NONE;
    }

    /**
     * The group size of a {@link Granularity.Group} scheme, −1 per channel; for a super-block scheme, the sub-block
     * size (the elements that share one effective scale). A per-tensor scheme has none.
     */
    public int groupSize() {
        return switch (granularity) {
            case Granularity.Channel c -> -1;
            case Granularity.Group g -> g.size();
            case Granularity.SuperBlock s -> s.subBlockSize();
            case Granularity.Tensor t -> throw new IllegalStateException("a per-tensor scheme has no group size");
        };
    }

    public int maxq() {
        return (1 << bits) - 1;
    }

    /** Group size for a row of {@code in} elements: the group size, or {@code in} when per channel. */
    public int effectiveGroupSize(int in) {
        int g = groupSize();
        return g == -1 ? in : g;
    }

    /** Number of groups for a row of {@code in} elements. */
    public int groupCount(int in) {
        return Math.ceilDiv(in, effectiveGroupSize(in));
    }

    /** Whether the codes index a table of levels rather than a uniform grid. */
    public boolean nonUniform() {
        return !levels.isEmpty();
    }

    /**
     * Storage bits per weight: the codes of every plane, plus each group's (or sub-block's and super-block's) scale and
     * zero point or min, spread over the elements that share them. Per-tensor and per-channel parameters are amortised
     * over a whole tensor or row and not counted.
     */
    public double bitsPerWeight() {
        double codes = codeBits * planes;
        int zeroBitsPer = switch (zeroPoint) {
            case NONE -> 0;
            case INTEGER -> bits;
            case MIN -> scaleType.bits();
        };
        return switch (granularity) {
            case Granularity.Tensor t -> codes;
            case Granularity.Channel c -> codes;
            case Granularity.Group g -> codes + planes * (double) (scaleType.bits() + zeroBitsPer) / g.size();
            case Granularity.SuperBlock s -> {
                int subMinBits = zeroPoint == ZeroPoint.MIN ? s.subScaleBits() : 0;
                yield codes + planes * ((double) (s.subScaleBits() + subMinBits) / s.subBlockSize()
                        + (double) (scaleType.bits() + zeroBitsPer) / s.size());
            }
        };
    }

    /**
     * {@code w4 g128 sym} / {@code w3 per-channel asym} for the GPTQ integer grid (recipes and reports print it); other
     * schemes spell out their parts, e.g. {@code E2M1 g32 E8M0}, {@code INT4 sb256/32×6b F16 min}.
     */
    @Override
    public String toString() {
        boolean gptqGrid = element == ElementType.INT && codeBits == bits && scaleType == ScaleType.F16 && planes == 1
                && levels.isEmpty() && zeroPoint != ZeroPoint.MIN
                && (granularity instanceof Granularity.Group || granularity instanceof Granularity.Channel);
        if (gptqGrid) return "w" + bits + (groupSize() == -1 ? " per-channel" : " g" + groupSize()) + (symmetric() ? " sym" : " asym");
        StringBuilder s = new StringBuilder();
        s.append(switch (element) {
            case INT -> (levels.isEmpty() ? "INT" : "NL") + bits;
            default -> element.name();
        });
        s.append(switch (granularity) {
            case Granularity.Tensor t -> " per-tensor";
            case Granularity.Channel c -> " per-channel";
            case Granularity.Group g -> " g" + g.size();
            case Granularity.SuperBlock b -> " sb" + b.size() + "/" + b.subBlockSize() + "×" + b.subScaleBits() + "b";
        });
        s.append(' ').append(scaleType);
        if (zeroPoint == ZeroPoint.INTEGER) s.append(" zero");
        if (zeroPoint == ZeroPoint.MIN) s.append(" min");
        if (planes > 1) s.append(" ×").append(planes).append(" planes");
        return s.toString();
    }
}
