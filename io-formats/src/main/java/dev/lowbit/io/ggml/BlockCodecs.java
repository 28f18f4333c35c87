package dev.lowbit.io.ggml;

/** The {@link BlockCodec} for each ggml type lowbit can encode and decode. */
public final class BlockCodecs {
    private BlockCodecs() {}

    /**
     * The codec for {@code type}.
     *
     * @throws UnsupportedOperationException naming the type when lowbit has no codec for it
     */
    public static BlockCodec forType(GgmlType type) {
        BlockCodec c = find(type);
        if (c == null) {
            throw new UnsupportedOperationException("ggml type " + type + " (id " + type.id() + ") has no codec in lowbit");
        }
        return c;
    }

    /** Whether {@link #forType(GgmlType)} has a codec for {@code type}. */
    public static boolean supports(GgmlType type) {
        return find(type) != null;
    }

    private static BlockCodec find(GgmlType type) {
        return switch (type) {
            case F32 -> FloatCodec.F32;
            case F16 -> FloatCodec.F16;
            case BF16 -> FloatCodec.BF16;
            case Q8_0 -> Q8_0Codec.INSTANCE;
            case Q4_0 -> Q4_0Codec.INSTANCE;
            case Q4_1 -> Q4_1Codec.INSTANCE;
            case Q5_0 -> Q5_0Codec.INSTANCE;
            case Q5_1 -> Q5_1Codec.INSTANCE;
            case Q2_K -> PackedCodec.Q2_K;
            case Q3_K -> PackedCodec.Q3_K;
            case Q4_K -> PackedCodec.Q4_K;
            case Q5_K -> PackedCodec.Q5_K;
            case Q6_K -> PackedCodec.Q6_K;
            case IQ4_NL -> PackedCodec.IQ4_NL;
            case IQ4_XS -> PackedCodec.IQ4_XS;
            case TQ1_0 -> PackedCodec.TQ1_0;
            case TQ2_0 -> PackedCodec.TQ2_0;
            case MXFP4 -> PackedCodec.MXFP4;
            default -> null;
        };
    }
}
