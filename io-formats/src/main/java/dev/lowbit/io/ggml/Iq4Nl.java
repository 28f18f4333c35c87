package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;

/**
 * IQ4_NL: 32 elements in 18 bytes (4.5 bits per weight), a 4-bit index into a fixed non-linear table.
 *
 * <pre>
 * offset  size  field
 *      0     2  fp16 d
 *      2    16  u8 qs[16]  low nibble of qs[j] = element j, high nibble = element j + 16
 * </pre>
 *
 * x = d·T[nibble], T = {@link #KVALUES} = {−127, −104, −83, −65, −49, −35, −22, −10, 1, 13, 25, 38, 53, 69, 89, 113}.
 *
 * <p>The blocks are chosen by ptq-algorithms' IQ4 search ({@code ptq.search}); this class packs and unpacks them.
 */
public final class Iq4Nl {
    private Iq4Nl() {}

    public static final int BLOCK_SIZE = 32;
    public static final int TYPE_SIZE = 18;

    /** ggml's {@code kvalues_iq4nl}, sorted ascending. */
    static final int[] KVALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    /** Dequantizes {@code n} values (a whole number of blocks) from {@code src} at {@code off} into {@code y[yOff..]}. */
    public static void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n) {
        KQuantBits.checkDequant("IQ4_NL", y, yOff, n, BLOCK_SIZE);
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            long blk = off + (long) b * TYPE_SIZE;
            float d = KQuantBits.f16(src, blk);
            int yo = yOff + b * BLOCK_SIZE;
            for (int j = 0; j < 16; j++) {
                int q = KQuantBits.u8(src, blk + 2 + j);
                y[yo + j] = d * KVALUES[q & 0xF];
                y[yo + j + 16] = d * KVALUES[q >> 4];
            }
        }
    }

    /** Packs one block at {@code blk}: fp16 d (rounded from {@code block.d}), 4-bit table indices 0..15. */
    public static void pack(GgmlBlock block, MemorySegment dst, long blk) {
        int[] L = block.codes;
        KQuantBits.putF16(dst, blk, block.d);
        for (int j = 0; j < 16; j++) KQuantBits.putU8(dst, blk + 2 + j, L[j] | (L[j + 16] << 4));
    }

    /** ggml's {@code kvalues_iq4nl} (a copy): the values a 4-bit index stands for, times d. */
    public static int[] kvalues() {
        return KVALUES.clone();
    }
}
