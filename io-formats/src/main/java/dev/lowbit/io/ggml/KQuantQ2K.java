package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;

import java.lang.foreign.MemorySegment;

/**
 * Q2_K: 256 elements in 84 bytes (2.625 bits per weight).
 *
 * <pre>
 * offset  size  field
 *      0    16  u8 scales[16]  low nibble: scale sc, high nibble: min m, one pair per 16 elements
 *     16    64  u8 qs[64]      2-bit codes q
 *     80     2  fp16 d
 *     82     2  fp16 dmin
 * </pre>
 *
 * Element e = 128h + 32g + l (h half, g = 0..3, l = 0..31) is {@code (qs[32h + l] >> 2g) & 3}; its pair is
 * {@code scales[e/16]}. x = d·sc·q − dmin·m, evaluated in f32 as {@code (d·sc)·q − (dmin·m)}.
 *
 * <p>The blocks are chosen by ptq-algorithms' Q2_K search ({@code ptq.search}); this class packs and unpacks them.
 */
public final class KQuantQ2K {
    private KQuantQ2K() {}

    public static final int BLOCK_SIZE = QK_K;
    public static final int TYPE_SIZE = 84;

    /** Dequantizes {@code n} values (a whole number of blocks) from {@code src} at {@code off} into {@code y[yOff..]}. */
    public static void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n) {
        KQuantBits.checkDequant("Q2_K", y, yOff, n, BLOCK_SIZE);
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            long blk = off + (long) b * TYPE_SIZE;
            float d = KQuantBits.f16(src, blk + 80);
            float dmin = KQuantBits.f16(src, blk + 82);
            int yo = yOff + b * BLOCK_SIZE;
            for (int e = 0; e < BLOCK_SIZE; e++) {
                int h = e >> 7, g = (e >> 5) & 3, l = e & 31;
                int sc = KQuantBits.u8(src, blk + e / 16);
                int q = (KQuantBits.u8(src, blk + 16 + 32 * h + l) >> (2 * g)) & 3;
                float dl = d * (sc & 0xF);
                float ml = dmin * (sc >> 4);
                y[yo + e] = dl * q - ml;
            }
        }
    }

    /**
     * Packs one block at {@code blk}: sixteen (sc, m) nibble pairs ({@code block.scales}, {@code block.mins}, each
     * 0..15), 2-bit codes q ∈ [0, 3], fp16 d and dmin.
     */
    public static void pack(GgmlBlock block, MemorySegment dst, long blk) {
        int[] L = block.codes;
        for (int j = 0; j < 16; j++) KQuantBits.putU8(dst, blk + j, block.scales[j] | (block.mins[j] << 4));
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; l++) {
                int q = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
                KQuantBits.putU8(dst, blk + 16 + j / 4 + l, q);
            }
        }
        KQuantBits.putF16(dst, blk + 80, block.d);
        KQuantBits.putF16(dst, blk + 82, block.dmin);
    }
}
