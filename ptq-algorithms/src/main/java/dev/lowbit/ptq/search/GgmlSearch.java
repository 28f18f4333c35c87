package dev.lowbit.ptq.search;

import dev.lowbit.io.ggml.GgmlType;
import java.lang.foreign.MemorySegment;

/**
 * How the blocks of one ggml type are chosen for a row of f32 values: llama.cpp's search for the type (its reference
 * quantizer without importance weights, llama-quantize's weighted search with them), the chosen parameters and codes
 * then packed by the type's codec in io-formats. Stateless and thread-safe; from {@link GgmlSearches#forType}.
 */
public interface GgmlSearch {
    GgmlType type();

    /**
     * Quantizes {@code x[off .. off+n)} ({@code n} a multiple of the block size, every value finite) into
     * {@code type().byteSizeOf(n)} bytes at {@code dst[dstOff]}. {@code importance[i]} weighs {@code x[off + i]}
     * (llama.cpp's imatrix: mean x² of the input channel feeding column i); {@code null} means none. A search that
     * does not use weights ({@link #usesImportance()} false) ignores them.
     */
    void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff);

    /** Whether the weights change what {@link #quantizeRow} chooses. */
    boolean usesImportance();
}
