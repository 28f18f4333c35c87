package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;

/**
 * Adapts the k-quant / IQ4 / TQ / MXFP4 classes (static {@code quantizeRow} and {@code dequantizeRow}) to
 * {@link BlockCodec}. Their quantizers take optional importance weights, as llama.cpp's {@code quant_weights}.
 */
record SearchedBlockCodec(GgmlType type, Quantizer quantizer, Dequantizer dequantizer, boolean usesImportance)
        implements BlockCodec {

    @FunctionalInterface
    interface Quantizer {
        void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff);
    }

    @FunctionalInterface
    interface Dequantizer {
        void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n);
    }

    static final SearchedBlockCodec Q2_K = new SearchedBlockCodec(GgmlType.Q2_K, KQuantQ2K::quantizeRow, KQuantQ2K::dequantizeRow, true);
    static final SearchedBlockCodec Q3_K = new SearchedBlockCodec(GgmlType.Q3_K, KQuantQ3K::quantizeRow, KQuantQ3K::dequantizeRow, true);
    static final SearchedBlockCodec Q4_K = new SearchedBlockCodec(GgmlType.Q4_K, KQuantQ4K::quantizeRow, KQuantQ4K::dequantizeRow, true);
    static final SearchedBlockCodec Q5_K = new SearchedBlockCodec(GgmlType.Q5_K, KQuantQ5K::quantizeRow, KQuantQ5K::dequantizeRow, true);
    static final SearchedBlockCodec Q6_K = new SearchedBlockCodec(GgmlType.Q6_K, KQuantQ6K::quantizeRow, KQuantQ6K::dequantizeRow, true);
    static final SearchedBlockCodec IQ4_NL = new SearchedBlockCodec(GgmlType.IQ4_NL, Iq4Nl::quantizeRow, Iq4Nl::dequantizeRow, true);
    static final SearchedBlockCodec IQ4_XS = new SearchedBlockCodec(GgmlType.IQ4_XS, Iq4Xs::quantizeRow, Iq4Xs::dequantizeRow, true);
    static final SearchedBlockCodec TQ1_0 = new SearchedBlockCodec(GgmlType.TQ1_0, Tq10::quantizeRow, Tq10::dequantizeRow, false);
    static final SearchedBlockCodec TQ2_0 = new SearchedBlockCodec(GgmlType.TQ2_0, Tq20::quantizeRow, Tq20::dequantizeRow, false);
    static final SearchedBlockCodec MXFP4 = new SearchedBlockCodec(GgmlType.MXFP4, Mxfp4::quantizeRow, Mxfp4::dequantizeRow, false);

    @Override
    public void quantizeRow(float[] x, int off, int n, MemorySegment dst, long dstOff) {
        quantizer.quantizeRow(x, off, n, null, dst, dstOff);
    }

    @Override
    public void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
        quantizer.quantizeRow(x, off, n, importance, dst, dstOff);
    }

    @Override
    public void dequantizeRow(MemorySegment src, long srcOff, float[] y, int off, int n) {
        dequantizer.dequantizeRow(src, srcOff, y, off, n);
    }
}
