package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code Q4_1}: blocks of 32 as {@code fp16 d; fp16 m; u8 qs[16]} (j / j+16 nibbles); x = q·d + m.
 *
 * <p>Reference quantizer ({@code quantize_row_q4_1_ref}): m = min, d = (max − min)/15, id = d ≠ 0 ? 1/d : 0 from the
 * f32 d, q = min(15, trunc((x − min)·id + 0.5)); m is stored as fp16 of the f32 min.
 */
final class Q4_1Codec implements BlockCodec {
    static final Q4_1Codec INSTANCE = new Q4_1Codec();
    private static final int QK = 32;

    private Q4_1Codec() {}

    @Override
    public GgmlType type() {
        return GgmlType.Q4_1;
    }

    @Override
    public void quantizeRow(float[] x, int off, int n, MemorySegment dst, long dstOff) {
        int nb = Blocks.blocks(GgmlType.Q4_1, n);
        for (int i = 0; i < nb; i++) {
            int base = off + i * QK;
            long at = dstOff + 20L * i;
            float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
            for (int j = 0; j < QK; j++) {
                float v = x[base + j];
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / 15;
            float id = d != 0f ? 1.0f / d : 0f;
            Blocks.putF16(dst, at, d);
            Blocks.putF16(dst, at + 2, min);
            for (int j = 0; j < QK / 2; j++) {
                int q0 = Math.min(15, (int) ((x[base + j] - min) * id + 0.5f));
                int q1 = Math.min(15, (int) ((x[base + QK / 2 + j] - min) * id + 0.5f));
                dst.set(ValueLayout.JAVA_BYTE, at + 4 + j, (byte) (q0 | q1 << 4));
            }
        }
    }

    /** {@code d} (fp16) and {@code dmin} = m (fp16); {@code codes[j]} ∈ [0, 15], x = codes·d + m. */
    @Override
    public void pack(GgmlBlock block, MemorySegment dst, long at) {
        Blocks.putF16(dst, at, block.d);
        Blocks.putF16(dst, at + 2, block.dmin);
        for (int j = 0; j < QK / 2; j++) {
            int q0 = block.codes[j], q1 = block.codes[j + QK / 2];
            dst.set(ValueLayout.JAVA_BYTE, at + 4 + j, (byte) ((q0 & 0xF) | (q1 & 0xF) << 4));
        }
    }

    @Override
    public void dequantizeRow(MemorySegment src, long srcOff, float[] y, int off, int n) {
        int nb = Blocks.blocks(GgmlType.Q4_1, n);
        for (int i = 0; i < nb; i++) {
            long at = srcOff + 20L * i;
            float d = Blocks.getF16(src, at);
            float m = Blocks.getF16(src, at + 2);
            int base = off + i * QK;
            for (int j = 0; j < QK / 2; j++) {
                int b = src.get(ValueLayout.JAVA_BYTE, at + 4 + j) & 0xFF;
                y[base + j] = (b & 0xF) * d + m;
                y[base + QK / 2 + j] = (b >>> 4) * d + m;
            }
        }
    }
}
