package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;
import static dev.lowbit.io.ggml.KQuantSearch.nearestInt;

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
 * <p>Quantizing follows {@code quantize_row_q6_K_ref}: {@code make_qx_quants}(16, 32, rmse_type 1) per 16 (weights
 * x², or the importance when given, as {@code quantize_row_q6_K_impl} does), then 8-bit scales −128/max_scale.
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
     * Quantizes {@code n} values {@code x[off..off+n)} (n a multiple of 256) into {@code n/256} blocks at
     * {@code dstOff}. Non-finite values are rejected with {@link IllegalArgumentException} (ggml has no defined
     * result for them). {@code importance} (nullable) holds one weight per element of the row, indexed from 0.
     */
    public static void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
        KQuantBits.checkRow("Q6_K", x, off, n, importance, BLOCK_SIZE);
        int[] L = new int[QK_K];
        float[] scales = new float[16];
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            int xo = off + b * QK_K;
            long blk = dstOff + (long) b * TYPE_SIZE;
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++) {
                float scale = KQuantSearch.makeQxQuants(16, 32, x, xo + 16 * ib, L, 16 * ib, 1,
                        importance, b * QK_K + 16 * ib);
                scales[ib] = scale;
                float absScale = Math.abs(scale);
                if (absScale > maxAbsScale) {
                    maxAbsScale = absScale;
                    maxScale = scale;
                }
            }
            if (maxAbsScale < KQuantSearch.GROUP_MAX_EPS) {
                dst.asSlice(blk, TYPE_SIZE).fill((byte) 0);
                continue;
            }
            float iscale = -128f / maxScale;
            float d = KQuantBits.putF16(dst, blk + 208, 1 / iscale);
            int[] sc = new int[16];
            for (int ib = 0; ib < 16; ib++) {
                sc[ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
                KQuantBits.putU8(dst, blk + 192 + ib, sc[ib]);
            }
            for (int j = 0; j < 16; j++) {
                float dl = d * sc[j];
                if (dl == 0) continue;
                for (int ii = 0; ii < 16; ii++) {
                    int l = nearestInt(x[xo + 16 * j + ii] / dl);
                    L[16 * j + ii] = Math.max(-32, Math.min(31, l)) + 32;
                }
            }
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
}
