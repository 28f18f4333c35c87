package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;

/**
 * Adapts the k-quant / IQ4 / TQ / MXFP4 classes (static {@code pack}, {@code dequantizeRow} and, for MXFP4 only,
 * {@code quantizeRow}) to {@link BlockCodec}. The k-quant, IQ4 and TQ blocks are chosen by a scale search in
 * ptq-algorithms ({@code dev.lowbit.ptq.search.GgmlSearches}) and only packed here; MXFP4's encoding is what its spec
 * fixes (the E8M0 exponent from the block's absmax, nearest E2M1 codes), so its codec quantizes.
 */
record PackedCodec(GgmlType type, Quantizer quantizer, Packer packer, Dequantizer dequantizer) implements BlockCodec {

    @FunctionalInterface
    interface Quantizer {
        void quantizeRow(float[] x, int off, int n, MemorySegment dst, long dstOff);
    }

    @FunctionalInterface
    interface Packer {
        void pack(GgmlBlock block, MemorySegment dst, long at);
    }

    @FunctionalInterface
    interface Dequantizer {
        void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n);
    }

    static final PackedCodec Q2_K = searched(GgmlType.Q2_K, KQuantQ2K::pack, KQuantQ2K::dequantizeRow);
    static final PackedCodec Q3_K = searched(GgmlType.Q3_K, KQuantQ3K::pack, KQuantQ3K::dequantizeRow);
    static final PackedCodec Q4_K = searched(GgmlType.Q4_K, KQuantQ4K::pack, KQuantQ4K::dequantizeRow);
    static final PackedCodec Q5_K = searched(GgmlType.Q5_K, KQuantQ5K::pack, KQuantQ5K::dequantizeRow);
    static final PackedCodec Q6_K = searched(GgmlType.Q6_K, KQuantQ6K::pack, KQuantQ6K::dequantizeRow);
    static final PackedCodec IQ4_NL = searched(GgmlType.IQ4_NL, Iq4Nl::pack, Iq4Nl::dequantizeRow);
    static final PackedCodec IQ4_XS = searched(GgmlType.IQ4_XS, Iq4Xs::pack, Iq4Xs::dequantizeRow);
    static final PackedCodec TQ1_0 = searched(GgmlType.TQ1_0, Tq10::pack, Tq10::dequantizeRow);
    static final PackedCodec TQ2_0 = searched(GgmlType.TQ2_0, Tq20::pack, Tq20::dequantizeRow);
    static final PackedCodec MXFP4 = new PackedCodec(GgmlType.MXFP4, Mxfp4::quantizeRow, null, Mxfp4::dequantizeRow);

    private static PackedCodec searched(GgmlType type, Packer packer, Dequantizer dequantizer) {
        return new PackedCodec(type, null, packer, dequantizer);
    }

    @Override
    public void quantizeRow(float[] x, int off, int n, MemorySegment dst, long dstOff) {
        if (quantizer == null) {
            throw new UnsupportedOperationException(type + ": its blocks come from a scale search (ptq-algorithms' GgmlSearches); the codec only packs them");
        }
        quantizer.quantizeRow(x, off, n, dst, dstOff);
    }

    @Override
    public void pack(GgmlBlock block, MemorySegment dst, long at) {
        if (packer == null) throw new UnsupportedOperationException(type + ": no block packing");
        if (block.type() != type) throw new IllegalArgumentException(type + " codec given a " + block.type() + " block");
        packer.pack(block, dst, at);
    }

    @Override
    public void dequantizeRow(MemorySegment src, long srcOff, float[] y, int off, int n) {
        dequantizer.dequantizeRow(src, srcOff, y, off, n);
    }
}
