package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;

import java.lang.foreign.MemorySegment;

/**
 * TQ2_0: 256 ternary elements in 66 bytes (2.0625 bits per weight), 2-bit codes.
 *
 * <pre>
 * offset  size  field
 *      0    64  u8 qs[64]  per 128 half h: qs[32h + m] bits 2n..2n+1 = element 128h + 32n + m
 *     64     2  fp16 d
 * </pre>
 *
 * x = (q − 1)·d. The blocks are chosen in ptq-algorithms ({@code ptq.search},
 * ggml's {@code quantize_row_tq2_0_ref}); this class packs and unpacks them.
 */
public final class Tq20 {
    private Tq20() {}

    public static final int BLOCK_SIZE = QK_K;
    public static final int TYPE_SIZE = 66;

    /** Dequantizes {@code n} values (a whole number of blocks) from {@code src} at {@code off} into {@code y[yOff..]}. */
    public static void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n) {
        KQuantBits.checkDequant("TQ2_0", y, yOff, n, BLOCK_SIZE);
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            long blk = off + (long) b * TYPE_SIZE;
            float d = KQuantBits.f16(src, blk + 64);
            int yo = yOff + b * BLOCK_SIZE;
            for (int e = 0; e < BLOCK_SIZE; e++) {
                int h = e >> 7, t = (e >> 5) & 3, m = e & 31;
                int q = (KQuantBits.u8(src, blk + 32 * h + m) >> (2 * t)) & 3;
                y[yo + e] = (float) (q - 1) * d;
            }
        }
    }

    /** Packs one block at {@code blk}: 2-bit codes t ∈ {0, 1, 2} ({@code block.codes}), fp16 d. */
    public static void pack(GgmlBlock block, MemorySegment dst, long blk) {
        int[] t3 = block.codes;
        KQuantBits.putF16(dst, blk + 64, block.d);
        for (int h = 0; h < 2; h++) {
            for (int m = 0; m < 32; m++) {
                int q = 0;
                for (int t = 0; t < 4; t++) q += (t3[128 * h + 32 * t + m] & 3) << (2 * t);
                KQuantBits.putU8(dst, blk + 32 * h + m, q);
            }
        }
    }
}
