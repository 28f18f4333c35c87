package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;

import java.lang.foreign.MemorySegment;

/**
 * Q3_K: 256 elements in 110 bytes (3.4375 bits per weight).
 *
 * <pre>
 * offset  size  field
 *      0    32  u8 hmask[32]   high bit of element e = bit e/32 of hmask[e%32]
 *     32    64  u8 qs[64]      low 2 bits: element e = 128h + 32g + l is (qs[32h + l] >> 2g) &amp; 3
 *     96    12  u8 scales[12]  sixteen 6-bit scales s (bias 32), one per 16 elements
 *    108     2  fp16 d
 * </pre>
 *
 * Scale j: low 4 bits {@code j < 8 ? scales[j] & 0xF : scales[j−8] >> 4}, high 2 bits
 * {@code (scales[8 + j%4] >> 2(j/4)) & 3}. x = (d·(s−32))·(q2 − (high bit ? 0 : 4)).
 *
 * <p>The blocks are chosen by ptq-algorithms' Q3_K search ({@code ptq.search}); this class packs and unpacks them.
 */
public final class KQuantQ3K {
    private KQuantQ3K() {}

    public static final int BLOCK_SIZE = QK_K;
    public static final int TYPE_SIZE = 110;

    static int scale(MemorySegment s, long blk, int j) {
        int lo = j < 8 ? KQuantBits.u8(s, blk + 96 + j) & 0xF : KQuantBits.u8(s, blk + 96 + j - 8) >> 4;
        int hi = (KQuantBits.u8(s, blk + 96 + 8 + j % 4) >> (2 * (j / 4))) & 3;
        return (lo | (hi << 4)) - 32;
    }

    /** Dequantizes {@code n} values (a whole number of blocks) from {@code src} at {@code off} into {@code y[yOff..]}. */
    public static void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n) {
        KQuantBits.checkDequant("Q3_K", y, yOff, n, BLOCK_SIZE);
        int[] s = new int[16];
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            long blk = off + (long) b * TYPE_SIZE;
            float dAll = KQuantBits.f16(src, blk + 108);
            for (int j = 0; j < 16; j++) s[j] = scale(src, blk, j);
            int yo = yOff + b * BLOCK_SIZE;
            for (int e = 0; e < BLOCK_SIZE; e++) {
                int h = e >> 7, g = (e >> 5) & 3, l = e & 31;
                int q = (KQuantBits.u8(src, blk + 32 + 32 * h + l) >> (2 * g)) & 3;
                boolean high = ((KQuantBits.u8(src, blk + l) >> (e >> 5)) & 1) != 0;
                float dl = dAll * s[e / 16];
                y[yo + e] = dl * (q - (high ? 0 : 4));
            }
        }
    }

    /**
     * Packs one block at {@code blk}: sixteen 6-bit scales ({@code block.scales}, biased by 32: 0..63), fp16 d,
     * 3-bit codes q ∈ [0, 7] (x = d·(s − 32)·(q − 4); bit 2 in hmask, bits 0–1 in qs).
     */
    public static void pack(GgmlBlock block, MemorySegment dst, long blk) {
        int[] L = block.codes;
        int[] packed = new int[12];
        for (int j = 0; j < 16; j++) {
            int l = block.scales[j];
            if (j < 8) {
                packed[j] = l & 0xF;
            } else {
                packed[j - 8] |= (l & 0xF) << 4;
            }
            packed[8 + j % 4] |= (l >> 4) << (2 * (j / 4));
        }
        for (int i = 0; i < 12; i++) KQuantBits.putU8(dst, blk + 96 + i, packed[i]);
        KQuantBits.putF16(dst, blk + 108, block.d);
        int[] hmask = new int[32];
        for (int j = 0; j < QK_K; j++) {
            if (L[j] > 3) hmask[j % 32] |= 1 << (j / 32);
        }
        for (int i = 0; i < 32; i++) KQuantBits.putU8(dst, blk + i, hmask[i]);
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; l++) {
                int q = (L[j + l] & 3) | ((L[j + l + 32] & 3) << 2) | ((L[j + l + 64] & 3) << 4) | ((L[j + l + 96] & 3) << 6);
                KQuantBits.putU8(dst, blk + 32 + j / 4 + l, q);
            }
        }
    }

    /** Packs the biased 6-bit scale {@code l} (0..63) of sub-block j into the 12 scale bytes. */
    private static void pack(int[] packed, int j, int l) {
        if (j < 8) {
            packed[j] = l & 0xF;
        } else {
            packed[j - 8] |= (l & 0xF) << 4;
        }
        packed[8 + j % 4] |= (l >> 4) << (2 * (j / 4));
    }
}
