package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code Q5_1}: blocks of 32 as {@code fp16 d; fp16 m; u8 qh[4]; u8 qs[16]} (5th bits in {@code qh} as in Q5_0);
 * x = q·d + m.
 *
 * <p>Reference quantizer ({@code quantize_row_q5_1_ref}): m = min, d = (max − min)/31, id = d ≠ 0 ? 1/d : 0 from the
 * f32 d, q = trunc((x − min)·id + 0.5) (no clamp in the reference: the value cannot exceed 31 by more than rounding).
 */
final class Q5_1Codec implements BlockCodec {
    static final Q5_1Codec INSTANCE = new Q5_1Codec();
    private static final int QK = 32;

    private Q5_1Codec() {}

    @Override
    public GgmlType type() {
        return GgmlType.Q5_1;
    }

    @Override
    public void quantizeRow(float[] x, int off, int n, MemorySegment dst, long dstOff) {
        int nb = Blocks.blocks(GgmlType.Q5_1, n);
        for (int i = 0; i < nb; i++) {
            int base = off + i * QK;
            long at = dstOff + 24L * i;
            float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
            for (int j = 0; j < QK; j++) {
                float v = x[base + j];
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / 31;
            float id = d != 0f ? 1.0f / d : 0f;
            Blocks.putF16(dst, at, d);
            Blocks.putF16(dst, at + 2, min);
            int qh = 0;
            for (int j = 0; j < QK / 2; j++) {
                int q0 = (int) ((x[base + j] - min) * id + 0.5f) & 0xFF;
                int q1 = (int) ((x[base + QK / 2 + j] - min) * id + 0.5f) & 0xFF;
                dst.set(ValueLayout.JAVA_BYTE, at + 8 + j, (byte) ((q0 & 0xF) | (q1 & 0xF) << 4));
                qh |= (q0 >>> 4 & 1) << j;
                qh |= (q1 >>> 4 & 1) << (j + QK / 2);
            }
            dst.set(Blocks.INT_LE, at + 4, qh);
        }
    }

    /** {@code d} (fp16) and {@code dmin} = m (fp16); {@code codes[j]} ∈ [0, 31], x = codes·d + m. */
    @Override
    public void pack(GgmlBlock block, MemorySegment dst, long at) {
        Blocks.putF16(dst, at, block.d);
        Blocks.putF16(dst, at + 2, block.dmin);
        int qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            int q0 = block.codes[j], q1 = block.codes[j + QK / 2];
            dst.set(ValueLayout.JAVA_BYTE, at + 8 + j, (byte) ((q0 & 0xF) | (q1 & 0xF) << 4));
            qh |= (q0 >>> 4 & 1) << j;
            qh |= (q1 >>> 4 & 1) << (j + QK / 2);
        }
        dst.set(Blocks.INT_LE, at + 4, qh);
    }

    @Override
    public void dequantizeRow(MemorySegment src, long srcOff, float[] y, int off, int n) {
        int nb = Blocks.blocks(GgmlType.Q5_1, n);
        for (int i = 0; i < nb; i++) {
            long at = srcOff + 24L * i;
            float d = Blocks.getF16(src, at);
            float m = Blocks.getF16(src, at + 2);
            int qh = src.get(Blocks.INT_LE, at + 4);
            int base = off + i * QK;
            for (int j = 0; j < QK / 2; j++) {
                int b = src.get(ValueLayout.JAVA_BYTE, at + 8 + j) & 0xFF;
                int q0 = (b & 0xF) | (qh >>> j & 1) << 4;
                int q1 = (b >>> 4) | (qh >>> (j + QK / 2) & 1) << 4;
                y[base + j] = q0 * d + m;
                y[base + QK / 2 + j] = q1 * d + m;
            }
        }
    }
}
