package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;
import static dev.lowbit.io.ggml.KQuantSearch.nearestInt;

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
 * <p>Quantizing without importance follows {@code quantize_row_q2_K_ref} (per 16: {@code make_qkx2_quants} with
 * weights |x|, then 4-bit scales and mins relative to their maxima); with importance it follows
 * {@code quantize_row_q2_K_impl} ({@code make_qkx3_quants} with weights imp·√(σ² + x²), {@code make_qp_quants} for
 * the 4-bit scales and mins). Codes are then recomputed from the stored scales.
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
     * Quantizes {@code n} values {@code x[off..off+n)} (n a multiple of 256) into {@code n/256} blocks at
     * {@code dstOff}. Non-finite values are rejected with {@link IllegalArgumentException} (ggml has no defined
     * result for them). {@code importance} (nullable) holds one weight per element of the row, indexed from 0.
     */
    public static void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
        KQuantBits.checkRow("Q2_K", x, off, n, importance, BLOCK_SIZE);
        int[] L = new int[QK_K];
        int[] Laux = new int[16];
        float[] weights = new float[16];
        float[] mins = new float[16];
        float[] scales = new float[16];
        float[] theMin = new float[1];
        float[] sw = new float[16];
        int[] Ls = new int[16];
        int[] Lm = new int[16];
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            int xo = off + b * QK_K;
            long blk = dstOff + (long) b * TYPE_SIZE;
            int[] sc = new int[16];
            float d, dmin;
            if (importance == null) {
                float maxScale = 0, maxMin = 0;
                for (int j = 0; j < 16; j++) {
                    for (int l = 0; l < 16; l++) weights[l] = Math.abs(x[xo + 16 * j + l]);
                    scales[j] = KQuantSearch.makeQkx2Quants(16, 3, x, xo + 16 * j, weights, L, 16 * j, theMin, Laux,
                            -0.5f, 0.1f, 15, true);
                    mins[j] = theMin[0];
                    if (scales[j] > maxScale) maxScale = scales[j];
                    if (mins[j] > maxMin) maxMin = mins[j];
                }
                if (maxScale > 0) {
                    float iscale = 15f / maxScale;
                    for (int j = 0; j < 16; j++) sc[j] = nearestInt(iscale * scales[j]) & 0xFF;
                    d = KQuantBits.putF16(dst, blk + 80, maxScale / 15f);
                } else {
                    d = KQuantBits.putF16(dst, blk + 80, 0f);
                }
                if (maxMin > 0) {
                    float iscale = 15f / maxMin;
                    for (int j = 0; j < 16; j++) sc[j] = (sc[j] | (nearestInt(iscale * mins[j]) << 4)) & 0xFF;
                    dmin = KQuantBits.putF16(dst, blk + 82, maxMin / 15f);
                } else {
                    dmin = KQuantBits.putF16(dst, blk + 82, 0f);
                }
            } else {
                float sumx2 = 0;
                for (int j = 0; j < QK_K; j++) sumx2 += x[xo + j] * x[xo + j];
                float sigma2 = sumx2 / QK_K;
                int io = b * QK_K;
                for (int j = 0; j < 16; j++) {
                    sw[j] = 0;
                    for (int l = 0; l < 16; l++) {
                        float xv = x[xo + 16 * j + l];
                        weights[l] = importance[io + 16 * j + l] * (float) Math.sqrt(sigma2 + xv * xv);
                    }
                    for (int l = 0; l < 16; l++) sw[j] += weights[l];
                    scales[j] = KQuantSearch.makeQkx3Quants(16, 3, x, xo + 16 * j, weights, L, 16 * j, theMin, Laux,
                            -0.9f, 0.05f, 36, false);
                    mins[j] = theMin[0];
                }
                float dm = KQuantSearch.makeQpQuants(16, 15, scales, Ls, sw);
                float mm = KQuantSearch.makeQpQuants(16, 15, mins, Lm, sw);
                d = KQuantBits.putF16(dst, blk + 80, dm);
                dmin = KQuantBits.putF16(dst, blk + 82, mm);
                for (int j = 0; j < 16; j++) sc[j] = (Ls[j] | (Lm[j] << 4)) & 0xFF;
            }
            for (int j = 0; j < 16; j++) {
                KQuantBits.putU8(dst, blk + j, sc[j]);
                float dl = d * (sc[j] & 0xF);
                if (dl == 0) continue;
                float dm = dmin * (sc[j] >> 4);
                for (int ii = 0; ii < 16; ii++) {
                    int l = nearestInt((x[xo + 16 * j + ii] + dm) / dl);
                    L[16 * j + ii] = Math.max(0, Math.min(3, l));
                }
            }
            for (int j = 0; j < QK_K; j += 128) {
                for (int l = 0; l < 32; l++) {
                    int q = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
                    KQuantBits.putU8(dst, blk + 16 + j / 4 + l, q);
                }
            }
        }
    }
}
