package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;

import java.lang.foreign.MemorySegment;

/**
 * IQ4_XS: 256 elements in 136 bytes (4.25 bits per weight): IQ4_NL's table with 6-bit scales per 32.
 *
 * <pre>
 * offset  size  field
 *      0     2  fp16 d
 *      2     2  u16 scales_h  bits 2ib..2ib+1 = high 2 bits of the scale of 32-block ib
 *      4     4  u8 scales_l[4] low 4 bits: nibble ib%2 of scales_l[ib/2]
 *      8   128  u8 qs[128]    per 32-block ib: qs[16ib + j] low nibble = element 32ib + j, high = 32ib + 16 + j
 * </pre>
 *
 * ls = low | high &lt;&lt; 4; x = (d·(ls − 32))·T[nibble] with T = {@link Iq4Nl#KVALUES}.
 *
 * <p>The blocks are chosen by ptq-algorithms' IQ4 search ({@code ptq.search}); this class packs and unpacks them.
 */
public final class Iq4Xs {
    private Iq4Xs() {}

    public static final int BLOCK_SIZE = QK_K;
    public static final int TYPE_SIZE = 136;

    /** Dequantizes {@code n} values (a whole number of blocks) from {@code src} at {@code off} into {@code y[yOff..]}. */
    public static void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n) {
        KQuantBits.checkDequant("IQ4_XS", y, yOff, n, BLOCK_SIZE);
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            long blk = off + (long) b * TYPE_SIZE;
            float d = KQuantBits.f16(src, blk);
            int scalesH = KQuantBits.u16(src, blk + 2);
            int yo = yOff + b * BLOCK_SIZE;
            for (int ib = 0; ib < 8; ib++) {
                int ls = ((KQuantBits.u8(src, blk + 4 + ib / 2) >> (4 * (ib % 2))) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
                float dl = d * (ls - 32);
                for (int j = 0; j < 16; j++) {
                    int q = KQuantBits.u8(src, blk + 8 + 16 * ib + j);
                    y[yo + 32 * ib + j] = dl * Iq4Nl.KVALUES[q & 0xF];
                    y[yo + 32 * ib + j + 16] = dl * Iq4Nl.KVALUES[q >> 4];
                }
            }
        }
    }

    /**
     * Packs one block at {@code blk}: fp16 d (rounded from {@code block.d}), eight 6-bit scales ({@code block.scales},
     * biased by 32: 0..63; low nibbles in scales_l, high 2 bits in scales_h), 4-bit table indices 0..15.
     */
    public static void pack(GgmlBlock block, MemorySegment dst, long blk) {
        int[] L = block.codes;
        KQuantBits.putF16(dst, blk, block.d);
        int scalesH = 0;
        int[] scalesL = new int[4];
        for (int ib = 0; ib < 8; ib++) {
            int l = block.scales[ib];
            scalesL[ib / 2] |= (l & 0xF) << (4 * (ib % 2));
            scalesH |= (l >> 4) << (2 * ib);
        }
        KQuantBits.putU16(dst, blk + 2, scalesH);
        for (int i = 0; i < 4; i++) KQuantBits.putU8(dst, blk + 4 + i, scalesL[i]);
        for (int i = 0; i < 8; i++) {
            for (int j = 0; j < 16; j++) {
                KQuantBits.putU8(dst, blk + 8 + 16 * i + j, L[32 * i + j] | (L[32 * i + 16 + j] << 4));
            }
        }
    }
}
