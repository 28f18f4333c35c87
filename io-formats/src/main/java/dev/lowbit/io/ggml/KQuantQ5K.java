package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;

import java.lang.foreign.MemorySegment;

/**
 * Q5_K: 256 elements in 176 bytes (5.5 bits per weight).
 *
 * <pre>
 * offset  size  field
 *      0     2  fp16 d
 *      2     2  fp16 dmin
 *      4    12  u8 scales[12]  eight 6-bit (sc, m) pairs, one per 32 elements (see {@link KQuantScaleMin})
 *     16    32  u8 qh[32]      bit 2c / 2c+1 of qh[l] = 5th bit of element 64c + l / 64c + 32 + l
 *     48   128  u8 qs[128]     low 4 bits, laid out as in Q4_K
 * </pre>
 *
 * Element e = 64c + 32s + l: q = nibble + 16·((qh[l] &gt;&gt; (2c + s)) &amp; 1), x = (d·sc)·q − (dmin·m) with pair 2c + s.
 * The blocks are chosen by ptq-algorithms' Q5_K search ({@code ptq.search}); this class packs and unpacks them.
 */
public final class KQuantQ5K {
    private KQuantQ5K() {}

    public static final int BLOCK_SIZE = QK_K;
    public static final int TYPE_SIZE = 176;

    /** Dequantizes {@code n} values (a whole number of blocks) from {@code src} at {@code off} into {@code y[yOff..]}. */
    public static void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n) {
        KQuantBits.checkDequant("Q5_K", y, yOff, n, BLOCK_SIZE);
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
                    int ql = KQuantBits.u8(src, blk + 48 + 32 * c + l);
                    int qh = KQuantBits.u8(src, blk + 16 + l);
                    int q1 = (ql & 0xF) + (((qh >> (2 * c)) & 1) != 0 ? 16 : 0);
                    int q2 = (ql >> 4) + (((qh >> (2 * c + 1)) & 1) != 0 ? 16 : 0);
                    y[yo + 64 * c + l] = d1 * q1 - m1;
                    y[yo + 64 * c + 32 + l] = d2 * q2 - m2;
                }
            }
        }
    }

    /**
     * Packs one block at {@code blk}: d and dmin (fp16), eight 6-bit (sc, m) pairs ({@code block.scales},
     * {@code block.mins}, each 0..63), 5-bit codes q ∈ [0, 31] (low nibbles in qs, fifth bits in qh).
     */
    public static void pack(GgmlBlock block, MemorySegment dst, long blk) {
        KQuantScaleMin.pack(block, dst, blk);
        int[] L = block.codes;
        int[] qh = new int[32];
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                int l1 = L[64 * c + l];
                int l2 = L[64 * c + 32 + l];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[l] |= 1 << (2 * c);
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[l] |= 2 << (2 * c);
                }
                KQuantBits.putU8(dst, blk + 48 + 32 * c + l, l1 | (l2 << 4));
            }
        }
        for (int l = 0; l < 32; l++) KQuantBits.putU8(dst, blk + 16 + l, qh[l]);
    }
}
