package dev.lowbit.io.ggml;

import dev.lowbit.kernels.legacy.LegacyKernels;
import dev.lowbit.kernels.legacy.LegacyQuants;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code Q4_0}: blocks of 32 as {@code fp16 d; u8 qs[16]}; the low nibble of {@code qs[j]} holds element j, the high
 * nibble element j+16; x = (q − 8)·d.
 *
 * <p>Reference quantizer ({@code quantize_row_q4_0_ref}): max = the element of largest magnitude, keeping its sign
 * (first wins ties), d = max/−8, id = d ≠ 0 ? 1/d : 0 from the f32 d, q = min(15, trunc(x·id + 8.5)).
 */
final class Q4_0Codec implements BlockCodec {
    static final Q4_0Codec INSTANCE = new Q4_0Codec();
    private static final LegacyQuants QUANTS = LegacyKernels.chosen();
    private static final int QK = 32;

    private Q4_0Codec() {}

    @Override
    public GgmlType type() {
        return GgmlType.Q4_0;
    }

    /** ggml's reference quantizer through the chosen kernel ({@link LegacyKernels}: Vector API or scalar, the same bytes). */
    @Override
    public void quantizeRow(float[] x, int off, int n, MemorySegment dst, long dstOff) {
        Blocks.blocks(GgmlType.Q4_0, n);
        QUANTS.quantizeQ4_0(x, off, n, dst, dstOff);
    }

    /** {@code d} (fp16); {@code codes[j]} ∈ [0, 15], x = (codes − 8)·d. */
    @Override
    public void pack(GgmlBlock block, MemorySegment dst, long at) {
        Blocks.putF16(dst, at, block.d);
        for (int j = 0; j < QK / 2; j++) {
            int q0 = block.codes[j], q1 = block.codes[j + QK / 2];
            dst.set(ValueLayout.JAVA_BYTE, at + 2 + j, (byte) ((q0 & 0xF) | (q1 & 0xF) << 4));
        }
    }

    @Override
    public void dequantizeRow(MemorySegment src, long srcOff, float[] y, int off, int n) {
        int nb = Blocks.blocks(GgmlType.Q4_0, n);
        for (int i = 0; i < nb; i++) {
            long at = srcOff + 18L * i;
            float d = Blocks.getF16(src, at);
            int base = off + i * QK;
            for (int j = 0; j < QK / 2; j++) {
                int b = src.get(ValueLayout.JAVA_BYTE, at + 2 + j) & 0xFF;
                y[base + j] = ((b & 0xF) - 8) * d;
                y[base + QK / 2 + j] = ((b >>> 4) - 8) * d;
            }
        }
    }
}
