package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;

/**
 * The part Q4_K and Q5_K share: fp16 d and dmin at bytes 0 and 2, then 12 bytes holding eight 6-bit (scale, min)
 * pairs, one per 32 elements ({@code get_scale_min_k4}): for j &lt; 4, sc = s[j] &amp; 63, m = s[j+4] &amp; 63; for
 * j ≥ 4, sc = (s[j+4] &amp; 0xF) | ((s[j−4] &gt;&gt; 6) &lt;&lt; 4), m = (s[j+4] &gt;&gt; 4) | ((s[j] &gt;&gt; 6) &lt;&lt; 4).
 * Sub-block j decodes as x = (d·sc)·q − (dmin·m).
 */
final class KQuantScaleMin {
    private KQuantScaleMin() {}

    /** Scale of pair j from the 12 bytes at {@code scalesOff}. */
    static int sc(MemorySegment s, long scalesOff, int j) {
        if (j < 4) return KQuantBits.u8(s, scalesOff + j) & 63;
        return (KQuantBits.u8(s, scalesOff + j + 4) & 0xF) | ((KQuantBits.u8(s, scalesOff + j - 4) >> 6) << 4);
    }

    /** Min of pair j from the 12 bytes at {@code scalesOff}. */
    static int m(MemorySegment s, long scalesOff, int j) {
        if (j < 4) return KQuantBits.u8(s, scalesOff + j + 4) & 63;
        return (KQuantBits.u8(s, scalesOff + j + 4) >> 4) | ((KQuantBits.u8(s, scalesOff + j) >> 6) << 4);
    }

    private static void pack(int[] s, int j, int ls, int lm) {
        if (j < 4) {
            s[j] = ls;
            s[j + 4] = lm;
        } else {
            s[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            s[j - 4] |= (ls >> 4) << 6;
            s[j] |= (lm >> 4) << 6;
        }
    }

    /** Writes d, dmin (fp16) and the eight (sc, m) pairs of {@code block} (each 0..63) into the block at {@code blk}. */
    static void pack(GgmlBlock block, MemorySegment dst, long blk) {
        int[] packed = new int[12];
        for (int j = 0; j < 8; j++) pack(packed, j, block.scales[j], block.mins[j]);
        for (int i = 0; i < 12; i++) KQuantBits.putU8(dst, blk + 4 + i, packed[i]);
        KQuantBits.putF16(dst, blk, block.d);
        KQuantBits.putF16(dst, blk + 2, block.dmin);
    }
}
