package dev.lowbit.io.quant;

/**
 * How one weight matrix is quantized: integer bits, group size along the input dimension (−1 = one group per row,
 * i.e. per output channel), and symmetric (fixed zero point 2^(bits−1)) or asymmetric (a zero point per group).
 *
 * <p>Integer grid as in the GPTQ reference: maxq = 2^bits − 1, q ∈ [0, maxq], ŵ = scale · (q − zero).
 */
public record QuantScheme(int bits, int groupSize, boolean symmetric) {
    public QuantScheme {
        if (bits < 1 || bits > 8) throw new IllegalArgumentException("bits must be 1..8, got " + bits);
        if (groupSize == 0 || groupSize < -1) throw new IllegalArgumentException("group size must be -1 or positive, got " + groupSize);
    }

    public int maxq() {
        return (1 << bits) - 1;
    }

    /** Group size for a row of {@code in} elements: the group size, or {@code in} when per channel. */
    public int effectiveGroupSize(int in) {
        return groupSize == -1 ? in : groupSize;
    }

    /** Number of groups for a row of {@code in} elements. */
    public int groupCount(int in) {
        return Math.ceilDiv(in, effectiveGroupSize(in));
    }

    @Override
    public String toString() {
        return "w" + bits + (groupSize == -1 ? " per-channel" : " g" + groupSize) + (symmetric ? " sym" : " asym");
    }
}
