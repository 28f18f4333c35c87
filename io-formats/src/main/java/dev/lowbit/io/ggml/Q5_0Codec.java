package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code Q5_0}: blocks of 32 as {@code fp16 d; u8 qh[4]; u8 qs[16]}. The low 4 bits of element j sit in
 * {@code qs} (j / j+16 nibbles), the 5th bit in bit j of {@code qh} read as a little-endian u32; x = (q − 16)·d.
 *
 * <p>Reference quantizer ({@code quantize_row_q5_0_ref}): max = the element of largest magnitude with its sign (first
 * wins ties), d = max/−16, id = d ≠ 0 ? 1/d : 0 from the f32 d, q = min(31, trunc(x·id + 16.5)).
 */
final class Q5_0Codec implements BlockCodec {
    static final Q5_0Codec INSTANCE = new Q5_0Codec();
    private static final int QK = 32;

    private Q5_0Codec() {}

    @Override
    public GgmlType type() {
        return GgmlType.Q5_0;
    }

    @Override
    public void quantizeRow(float[] x, int off, int n, MemorySegment dst, long dstOff) {
        int nb = Blocks.blocks(GgmlType.Q5_0, n);
        for (int i = 0; i < nb; i++) {
            int base = off + i * QK;
            long at = dstOff + 22L * i;
            float d = Blocks.signedAbsMax(x, base, QK) / -16;
            float id = d != 0f ? 1.0f / d : 0f;
            Blocks.putF16(dst, at, d);
            int qh = 0;
            for (int j = 0; j < QK / 2; j++) {
                int q0 = Math.min(31, (int) (x[base + j] * id + 16.5f));
                int q1 = Math.min(31, (int) (x[base + QK / 2 + j] * id + 16.5f));
                dst.set(ValueLayout.JAVA_BYTE, at + 6 + j, (byte) ((q0 & 0xF) | (q1 & 0xF) << 4));
                qh |= (q0 >>> 4 & 1) << j;
                qh |= (q1 >>> 4 & 1) << (j + QK / 2);
            }
            dst.set(Blocks.INT_LE, at + 2, qh);
        }
    }

    /** {@code d} (fp16); {@code codes[j]} ∈ [0, 31], x = (codes − 16)·d. */
    @Override
    public void pack(GgmlBlock block, MemorySegment dst, long at) {
        Blocks.putF16(dst, at, block.d);
        int qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            int q0 = block.codes[j], q1 = block.codes[j + QK / 2];
            dst.set(ValueLayout.JAVA_BYTE, at + 6 + j, (byte) ((q0 & 0xF) | (q1 & 0xF) << 4));
            qh |= (q0 >>> 4 & 1) << j;
            qh |= (q1 >>> 4 & 1) << (j + QK / 2);
        }
        dst.set(Blocks.INT_LE, at + 2, qh);
    }

    @Override
    public void dequantizeRow(MemorySegment src, long srcOff, float[] y, int off, int n) {
        int nb = Blocks.blocks(GgmlType.Q5_0, n);
        for (int i = 0; i < nb; i++) {
            long at = srcOff + 22L * i;
            float d = Blocks.getF16(src, at);
            int qh = src.get(Blocks.INT_LE, at + 2);
            int base = off + i * QK;
            for (int j = 0; j < QK / 2; j++) {
                int b = src.get(ValueLayout.JAVA_BYTE, at + 6 + j) & 0xFF;
                int q0 = (b & 0xF) | (qh >>> j & 1) << 4;
                int q1 = (b >>> 4) | (qh >>> (j + QK / 2) & 1) << 4;
                y[base + j] = (q0 - 16) * d;
                y[base + QK / 2 + j] = (q1 - 16) * d;
            }
        }
    }
}
