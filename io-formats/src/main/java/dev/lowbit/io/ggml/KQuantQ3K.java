package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;
import static dev.lowbit.io.ggml.KQuantSearch.nearestInt;

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
 * <p>Quantizing without importance follows {@code quantize_row_q3_K_ref} ({@code make_q3_quants} per 16, 6-bit
 * scales relative to the largest); with importance {@code quantize_row_q3_K_impl} ({@code make_qx_quants} with weights
 * imp·√(σ² + x²), σ² = 2·Σx²/256, and again for the scales weighted by the sub-block weight sums).
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
     * Quantizes {@code n} values {@code x[off..off+n)} (n a multiple of 256) into {@code n/256} blocks at
     * {@code dstOff}. Non-finite values are rejected with {@link IllegalArgumentException} (ggml has no defined
     * result for them). {@code importance} (nullable) holds one weight per element of the row, indexed from 0.
     */
    public static void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
        KQuantBits.checkRow("Q3_K", x, off, n, importance, BLOCK_SIZE);
        int[] L = new int[QK_K];
        float[] scales = new float[16];
        float[] weight = new float[16];
        float[] sw = new float[16];
        int[] Ls = new int[16];
        int[] packed = new int[12];
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            int xo = off + b * QK_K;
            long blk = dstOff + (long) b * TYPE_SIZE;
            java.util.Arrays.fill(packed, 0);
            float d;
            if (importance == null) {
                float maxScale = 0, amax = 0;
                for (int j = 0; j < 16; j++) {
                    scales[j] = KQuantSearch.makeQ3Quants(16, 4, x, xo + 16 * j, L, 16 * j, true);
                    float scale = Math.abs(scales[j]);
                    if (scale > amax) {
                        amax = scale;
                        maxScale = scales[j];
                    }
                }
                if (maxScale != 0) {
                    float iscale = -32f / maxScale;
                    for (int j = 0; j < 16; j++) {
                        int l = (byte) nearestInt(iscale * scales[j]);
                        pack(packed, j, Math.max(-32, Math.min(31, l)) + 32);
                    }
                    d = 1 / iscale;
                } else {
                    d = 0f;
                }
            } else {
                float sumx2 = 0;
                for (int j = 0; j < QK_K; j++) sumx2 += x[xo + j] * x[xo + j];
                float sigma2 = 2 * sumx2 / QK_K;
                int io = b * QK_K;
                for (int j = 0; j < 16; j++) {
                    for (int l = 0; l < 16; l++) {
                        float xv = x[xo + 16 * j + l];
                        weight[l] = importance[io + 16 * j + l] * (float) Math.sqrt(sigma2 + xv * xv);
                    }
                    float sumw = 0;
                    for (int l = 0; l < 16; l++) sumw += weight[l];
                    sw[j] = sumw;
                    scales[j] = KQuantSearch.makeQxQuants(16, 4, x, xo + 16 * j, L, 16 * j, 1, weight, 0);
                }
                d = KQuantSearch.makeQxQuants(16, 32, scales, 0, Ls, 0, 1, sw, 0);
                for (int j = 0; j < 16; j++) pack(packed, j, Ls[j]);
            }
            for (int i = 0; i < 12; i++) KQuantBits.putU8(dst, blk + 96 + i, packed[i]);
            float dStored = KQuantBits.putF16(dst, blk + 108, d);
            for (int j = 0; j < 16; j++) {
                float dl = dStored * scale(dst, blk, j);
                if (dl == 0) continue;
                for (int ii = 0; ii < 16; ii++) {
                    int l = nearestInt(x[xo + 16 * j + ii] / dl);
                    L[16 * j + ii] = Math.max(-4, Math.min(3, l)) + 4;
                }
            }
            int[] hmask = new int[32];
            for (int j = 0; j < QK_K; j++) {
                if (L[j] > 3) {
                    hmask[j % 32] |= 1 << (j / 32);
                    L[j] -= 4;
                }
            }
            for (int i = 0; i < 32; i++) KQuantBits.putU8(dst, blk + i, hmask[i]);
            for (int j = 0; j < QK_K; j += 128) {
                for (int l = 0; l < 32; l++) {
                    int q = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
                    KQuantBits.putU8(dst, blk + 32 + j / 4 + l, q);
                }
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
