package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;

import java.lang.foreign.MemorySegment;

/**
 * Q4_K: 256 elements in 144 bytes (4.5 bits per weight).
 *
 * <pre>
 * offset  size  field
 *      0     2  fp16 d
 *      2     2  fp16 dmin
 *      4    12  u8 scales[12]  eight 6-bit (sc, m) pairs, one per 32 elements (see {@link KQuantScaleMin})
 *     16   128  u8 qs[128]     per 64-element chunk c: qs[32c + l] low nibble = element 64c + l,
 *                              high nibble = element 64c + 32 + l
 * </pre>
 *
 * Element e = 64c + 32s + l uses pair 2c + s: x = (d·sc)·q − (dmin·m).
 * The blocks are chosen by ptq-algorithms' Q4_K search ({@code ptq.search}); this class packs and unpacks them.
 */
public final class KQuantQ4K {
    private KQuantQ4K() {}

    public static final int BLOCK_SIZE = QK_K;
    public static final int TYPE_SIZE = 144;

    /** Dequantizes {@code n} values (a whole number of blocks) from {@code src} at {@code off} into {@code y[yOff..]}. */
    public static void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n) {
        KQuantBits.checkDequant("Q4_K", y, yOff, n, BLOCK_SIZE);
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            long blk = off + (long) b * TYPE_SIZE;
            float d = KQuantBits.f16(src, blk);
            float min = KQuantBits.f16(src, blk + 2);
            int yo = yOff + b * BLOCK_SIZE;
            for (int c = 0; c < 4; c++) {
                float d1 = d * KQuantScaleMin.sc(src, blk + 4, 2 * c);
                float m1 = min * KQuantScaleMin.m(src, blk + 4, 2 * c);
                float d2 = d * KQuantScaleMin.sc(src, blk + 4, 2 * c + 1);
                float m2 = min * KQuantScaleMin.m(src, blk + 4, 2 * c + 1);
                for (int l = 0; l < 32; l++) {
                    int q = KQuantBits.u8(src, blk + 16 + 32 * c + l);
                    y[yo + 64 * c + l] = d1 * (q & 0xF) - m1;
                    y[yo + 64 * c + 32 + l] = d2 * (q >> 4) - m2;
                }
            }
        }
    }

    /**
     * Packs one block at {@code blk}: d and dmin (fp16), eight 6-bit (sc, m) pairs ({@code block.scales},
     * {@code block.mins}, each 0..63), 4-bit codes q ∈ [0, 15].
     */
    public static void pack(GgmlBlock block, MemorySegment dst, long blk) {
        KQuantScaleMin.pack(block, dst, blk);
        int[] L = block.codes;
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                KQuantBits.putU8(dst, blk + 16 + 32 * c + l, L[64 * c + l] | (L[64 * c + 32 + l] << 4));
            }
        }
    }
}
