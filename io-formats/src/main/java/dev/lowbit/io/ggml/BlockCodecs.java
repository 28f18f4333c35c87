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
            // k-quant, IQ4_NL, TQ and MXFP4 codecs (KQuant*, Iq4Nl*, Tq*, Mxfp4*) register here.
            default -> null;
        };
    }
}
