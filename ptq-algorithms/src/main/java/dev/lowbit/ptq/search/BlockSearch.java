package dev.lowbit.ptq.search;

import dev.lowbit.io.ggml.GgmlBlock;

/**
 * The search of one block: chooses {@code out}'s parameters and codes for {@code x[xo .. xo + blockSize)}, with
 * element weights {@code importance[io ..]} or none ({@code null}). An instance holds scratch arrays and is used by one
 * thread for one row; {@link GgmlSearches} makes one per row.
 */
interface BlockSearch {
    void search(float[] x, int xo, float[] importance, int io, GgmlBlock out);
}
