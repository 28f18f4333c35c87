package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;

import java.lang.foreign.MemorySegment;

/**
 * TQ1_0: 256 ternary elements in 54 bytes (1.6875 bits per weight), five trits per byte.
 *
 * <pre>
 * offset  size  field
 *      0    48  u8 qs[48]  qs[m] (m &lt; 32) holds elements m + 32n, qs[32 + m] (m &lt; 16) holds 160 + m + 16n, n = 0..4
 *     48     4  u8 qh[4]   qh[j] holds elements 240 + j + 4n, n = 0..3 (in the top 4 of 5 trit positions)
 *     52     2  fp16 d
 * </pre>
 *
 * A byte stores its trits t₀..t₄ (first most significant) as v = Σ tₙ·3^(4−n), encoded ceil(v·256/243). Trit n decodes
 * as ((u8)(byte·3ⁿ)·3) &gt;&gt; 8 (wrap to u8 before the second multiply); x = (t − 1)·d. The blocks are chosen in ptq-algorithms
 * ({@code ptq.search}, ggml's {@code quantize_row_tq1_0_ref}); this class packs and unpacks them.
 */
public final class Tq10 {
    private Tq10() {}

    public static final int BLOCK_SIZE = QK_K;
    public static final int TYPE_SIZE = 54;

    private static final int[] POW3 = {1, 3, 9, 27, 81, 243};

    private static int trit(int b, int n) {
        int q = (b * POW3[n]) & 0xFF;
        return (q * 3) >> 8;
    }

    /** Dequantizes {@code n} values (a whole number of blocks) from {@code src} at {@code off} into {@code y[yOff..]}. */
    public static void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n) {
        KQuantBits.checkDequant("TQ1_0", y, yOff, n, BLOCK_SIZE);
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            long blk = off + (long) b * TYPE_SIZE;
            float d = KQuantBits.f16(src, blk + 52);
            int yo = yOff + b * BLOCK_SIZE;
            for (int t = 0; t < 5; t++) {
                for (int m = 0; m < 32; m++) y[yo + 32 * t + m] = (float) (trit(KQuantBits.u8(src, blk + m), t) - 1) * d;
            }
            for (int t = 0; t < 5; t++) {
                for (int m = 0; m < 16; m++) {
                    y[yo + 160 + 16 * t + m] = (float) (trit(KQuantBits.u8(src, blk + 32 + m), t) - 1) * d;
                }
            }
            for (int t = 0; t < 4; t++) {
                for (int j = 0; j < 4; j++) {
                    y[yo + 240 + 4 * t + j] = (float) (trit(KQuantBits.u8(src, blk + 48 + j), t) - 1) * d;
                }
            }
        }
    }

    /** Packs one block at {@code blk}: trits t ∈ {0, 1, 2} ({@code block.codes}) five per byte, fp16 d. */
    public static void pack(GgmlBlock block, MemorySegment dst, long blk) {
        int[] t3 = block.codes;
        KQuantBits.putF16(dst, blk + 52, block.d);
        for (int m = 0; m < 32; m++) {
            int q = 0;
            for (int t = 0; t < 5; t++) q = q * 3 + t3[m + 32 * t];
            KQuantBits.putU8(dst, blk + m, (q * 256 + 242) / 243);
        }
        for (int m = 0; m < 16; m++) {
            int q = 0;
            for (int t = 0; t < 5; t++) q = q * 3 + t3[160 + m + 16 * t];
            KQuantBits.putU8(dst, blk + 32 + m, (q * 256 + 242) / 243);
        }
        for (int j = 0; j < 4; j++) {
            int q = 0;
            for (int t = 0; t < 4; t++) q = q * 3 + t3[240 + j + 4 * t];
            q *= 3;
            KQuantBits.putU8(dst, blk + 48 + j, (q * 256 + 242) / 243);
        }
    }
}
