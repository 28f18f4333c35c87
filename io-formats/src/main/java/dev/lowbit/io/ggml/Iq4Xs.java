package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;
import static dev.lowbit.io.ggml.KQuantSearch.nearestInt;

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
 * <p>Quantizing follows ggml's {@code quantize_iq4_xs} ({@code quantize_row_iq4_nl_impl} with super-block 256,
 * block 32, ntry 7): per-block scales from {@link KQuantSearch#iq4BlockScale}, then d = −max_scale/32 and 6-bit
 * block scales, codes recomputed with each block's quantized scale.
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
     * Quantizes {@code n} values {@code x[off..off+n)} (n a multiple of 256) into {@code n/256} blocks at
     * {@code dstOff}. Non-finite values are rejected with {@link IllegalArgumentException} (ggml has no defined
     * result for them). {@code importance} (nullable) holds one weight per element of the row, indexed from 0.
     */
    public static void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
        KQuantBits.checkRow("IQ4_XS", x, off, n, importance, BLOCK_SIZE);
        float[] weight = new float[32];
        float[] scales = new float[8];
        int[] L = new int[QK_K];
        int[] values = Iq4Nl.KVALUES;
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            int xo = off + b * QK_K;
            long blk = dstOff + (long) b * TYPE_SIZE;
            float sigma2 = Iq4Nl.sigma2(x, xo, QK_K);
            float maxScale = 0, amaxScale = 0;
            for (int ib = 0; ib < 8; ib++) {
                Iq4Nl.iq4Weights(x, xo + 32 * ib, QK_K, importance, b * QK_K + 32 * ib, sigma2, weight, 0);
                scales[ib] = KQuantSearch.iq4BlockScale(x, xo + 32 * ib, 32, weight, values, Iq4Nl.NTRY, L, 32 * ib);
                float absD = Math.abs(scales[ib]);
                if (absD > amaxScale) {
                    amaxScale = absD;
                    maxScale = scales[ib];
                }
            }
            float d = -maxScale / 32;
            KQuantBits.putF16(dst, blk, d);
            float id = d != 0 ? 1 / d : 0.f;
            int scalesH = 0;
            int[] scalesL = new int[4];
            for (int ib = 0; ib < 8; ib++) {
                int l = nearestInt(id * scales[ib]);
                l = Math.max(-32, Math.min(31, l));
                float dl = d * l;
                float idl = dl != 0 ? 1 / dl : 0.f;
                for (int j = 0; j < 32; j++) L[32 * ib + j] = KQuantSearch.bestIndexInt8(16, values, idl * x[xo + 32 * ib + j]);
                l += 32;
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
}
