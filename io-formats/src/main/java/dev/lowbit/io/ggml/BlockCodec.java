package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;

/**
 * Encodes rows of f32 values into one ggml block type and decodes them back.
 *
 * <p>A row of {@code n} values ({@code n} a multiple of {@link GgmlType#blockSize()}) occupies
 * {@code n / blockSize × typeSize} bytes, blocks back to back, exactly as ggml lays out one tensor row.
 * Implementations are stateless and thread-safe; obtain them from {@link BlockCodecs#forType(GgmlType)}.
 *
 * <p>Quantizers reproduce ggml's reference quantizer (the one {@code llama-quantize} uses without an importance
 * matrix) bit for bit where the type's reference is deterministic arithmetic; dequantizers are exact.
 */
public interface BlockCodec {
    /** The block type this codec reads and writes. */
    GgmlType type();

    /**
     * Quantizes {@code x[off .. off+n)} into {@code dst} starting at byte {@code dstOff}, writing
     * {@link #rowBytes(int) rowBytes(n)} bytes.
     *
     * @throws IllegalArgumentException if {@code n} is not a multiple of the block size
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
     * Quantizes with per-element importance weights (the imatrix: mean x² of the input channel feeding each column).
     * {@code importance[i]} weighs {@code x[off + i]}, for {@code i} in {@code [0, n)}; {@code null} means none and is
     * the same as {@link #quantizeRow(float[], int, int, MemorySegment, long)}.
     *
     * <p>The default ignores the weights and runs the reference quantizer; codecs whose search uses them override
     * this and {@link #usesImportance()}.
     */
    default void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
        quantizeRow(x, off, n, dst, dstOff);
    }

    /** Whether {@link #quantizeRow(float[], int, int, float[], MemorySegment, long)} takes the weights into account. */
    default boolean usesImportance() {
        return false;
    }

    /**
     * Packs one block whose parameters and codes a search chose ({@code block.type()} must be this codec's) into
     * {@link GgmlType#typeSize()} bytes at {@code dst[at]}: layout only, no rounding decisions. Codecs of types that
     * have a search in ptq-algorithms implement it.
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
