package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;

/**
 * Encodes rows of f32 values into one ggml block type and decodes them back.
 *
 * <p>A row of {@code n} values ({@code n} a multiple of {@link GgmlType#blockSize()}) occupies
 * {@code n / blockSize × typeSize} bytes, blocks back to back, exactly as ggml lays out one tensor row.
 * Implementations are stateless and thread-safe; obtain them from {@link BlockCodecs#forType(GgmlType)}.
 *
 * <p>A codec owns a layout and what the spec fixes (DESIGN.md): dequantizers are exact, and types whose encoding is
 * fixed arithmetic (F32, F16, BF16, Q8_0, the legacy reference quantizers of Q4_0/Q4_1/Q5_0/Q5_1, MXFP4) quantize
 * here, bit for bit as ggml's reference. Blocks chosen by a search that minimises error (the k-quants, IQ4, TQ, and the
 * weighted legacy searches) come from ptq-algorithms ({@code dev.lowbit.ptq.search.GgmlSearches}), and the codec
 * only {@link #pack}s them.
 */
public interface BlockCodec {
    /** The block type this codec reads and writes. */
    GgmlType type();

    /**
     * Quantizes {@code x[off .. off+n)} into {@code dst} starting at byte {@code dstOff}, writing
     * {@link #rowBytes(int) rowBytes(n)} bytes, with the encoding the type's spec fixes.
     *
     * @throws IllegalArgumentException if {@code n} is not a multiple of the block size
     * @throws UnsupportedOperationException for a type whose blocks come from a search (use {@code GgmlSearches})
     */
    void quantizeRow(float[] x, int off, int n, MemorySegment dst, long dstOff);

    /**
     * Decodes {@link #rowBytes(int) rowBytes(n)} bytes of {@code src} starting at byte {@code srcOff} into
     * {@code y[off .. off+n)}.
     *
     * @throws IllegalArgumentException if {@code n} is not a multiple of the block size
     */
    void dequantizeRow(MemorySegment src, long srcOff, float[] y, int off, int n);

    /**
     * Packs one block whose parameters and codes a search chose ({@code block.type()} must be this codec's) into
     * {@link GgmlType#typeSize()} bytes at {@code dst[at]}: layout only, no rounding decisions. Codecs of types that
     * have a search in ptq-algorithms (and the legacy types, for their weighted searches) implement it.
     *
     * @throws UnsupportedOperationException for a type whose blocks lowbit only packs from raw values
     */
    default void pack(GgmlBlock block, MemorySegment dst, long at) {
        throw new UnsupportedOperationException(type() + ": no block packing");
    }

    /** Bytes of one row of {@code n} elements: {@code n / blockSize × typeSize}. */
    default long rowBytes(int n) {
        return type().byteSizeOf(n);
    }
}
