package dev.lowbit.io.ggml;

/**
 * One ggml block as plain numbers: what a scale search chose and a codec packs ({@link BlockCodec#pack}). The
 * codec owns where each number goes; the search owns which numbers they are.
 *
 * <ul>
 *   <li>{@link #d}: the block's (super-block) scale, stored as fp16 — a search that computes codes from the stored
 *       scale rounds it to fp16 itself, so packing it is exact;</li>
 *   <li>{@link #dmin}: the fp16 min ({@code m} of Q4_1/Q5_1, {@code dmin} of Q2_K/Q4_K/Q5_K), unused otherwise;</li>
 *   <li>{@link #scales}, {@link #mins}: the sub-block scale and min fields, as the unsigned integers the format stores
 *       (sizes and widths per type in each codec's {@code pack});</li>
 *   <li>{@link #codes}: one stored code per element, again the unsigned field value (Q4_0's q, not q − 8).</li>
 * </ul>
 *
 * <p>Mutable on purpose: a search fills one instance per block, millions of times per model, and reuses it.
 */
public final class GgmlBlock {
    private final GgmlType type;
    public float d;
    public float dmin;
    public final int[] scales;
    public final int[] mins;
    public final int[] codes;

    /** Scratch for one block of {@code type}, with as many sub-block fields as the type has. */
    public GgmlBlock(GgmlType type) {
        this.type = type;
        int sub = switch (type) {
            case Q2_K, Q3_K, Q6_K -> 16;
            case Q4_K, Q5_K, IQ4_XS -> 8;
            default -> 0;
        };
        this.scales = new int[sub];
        this.mins = new int[type == GgmlType.Q2_K || type == GgmlType.Q4_K || type == GgmlType.Q5_K ? sub : 0];
        this.codes = new int[type.blockSize()];
    }

    public GgmlType type() {
        return type;
    }
}
