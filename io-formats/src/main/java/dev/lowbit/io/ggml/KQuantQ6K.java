package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q6_K: 256 elements in 210 bytes (6.5625 bits per weight).
 *
 * <pre>
 * offset  size  field
 *      0   128  u8 ql[128]     low 4 bits
 *    128    64  u8 qh[64]      high 2 bits
 *    192    16  i8 scales[16]  one per 16 elements
 *    208     2  fp16 d
 * </pre>
 *
 * Element e = 128h + 32g + l: low 4 bits from {@code ql[64h + l + 32·(g&1)]} (low nibble if g &lt; 2, high if g ≥ 2),
 * high 2 bits {@code (qh[32h + l] >> 2g) & 3}; x = (d·scales[e/16])·(q − 32).
 *
 * <p>The blocks are chosen by ptq-algorithms' Q6_K search ({@code ptq.search}); this class packs and unpacks them.
 */
public final class KQuantQ6K {
    private KQuantQ6K() {}

    public static final int BLOCK_SIZE = QK_K;
    public static final int TYPE_SIZE = 210;

    /** Dequantizes {@code n} values (a whole number of blocks) from {@code src} at {@code off} into {@code y[yOff..]}. */
    public static void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n) {
        KQuantBits.checkDequant("Q6_K", y, yOff, n, BLOCK_SIZE);
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            long blk = off + (long) b * TYPE_SIZE;
            float d = KQuantBits.f16(src, blk + 208);
            int yo = yOff + b * BLOCK_SIZE;
            for (int e = 0; e < BLOCK_SIZE; e++) {
                int h = e >> 7, g = (e >> 5) & 3, l = e & 31;
                int ql = KQuantBits.u8(src, blk + 64 * h + l + 32 * (g & 1));
                int lo = g < 2 ? ql & 0xF : ql >> 4;
                int hi = (KQuantBits.u8(src, blk + 128 + 32 * h + l) >> (2 * g)) & 3;
                int q = (lo | (hi << 4)) - 32;
                byte sc = src.get(ValueLayout.JAVA_BYTE, blk + 192 + e / 16);
                y[yo + e] = d * sc * q;
            }
        }
    }

    /**
     * Packs one block at {@code blk}: sixteen int8 scales ({@code block.scales}, −128..127), fp16 d, 6-bit codes
     * q ∈ [0, 63] (x = d·sc·(q − 32); low nibbles in ql, high 2 bits in qh).
     */
    public static void pack(GgmlBlock block, MemorySegment dst, long blk) {
        int[] L = block.codes;
        KQuantBits.putF16(dst, blk + 208, block.d);
        for (int ib = 0; ib < 16; ib++) KQuantBits.putU8(dst, blk + 192 + ib, block.scales[ib]);
        for (int h = 0; h < 2; h++) {
            int j = 128 * h;
            for (int l = 0; l < 32; l++) {
                int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                KQuantBits.putU8(dst, blk + 64 * h + l, q1 | (q3 << 4));
                KQuantBits.putU8(dst, blk + 64 * h + l + 32, q2 | (q4 << 4));
                int qh = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4)
                        | ((L[j + l + 96] >> 4) << 6);
                KQuantBits.putU8(dst, blk + 128 + 32 * h + l, qh);
            }
        }
    }
}
