package dev.lowbit.io.ggml;

import dev.lowbit.kernels.legacy.LegacyKernels;
import dev.lowbit.kernels.legacy.LegacyQuants;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code Q8_0}: blocks of 32 as {@code fp16 d; i8 qs[32]}, x = qs·d.
 *
 * <p>Reference quantizer ({@code quantize_row_q8_0_ref}): amax = max|x|, d = amax/127, id = d ≠ 0 ? 1/d : 0 (from the
 * f32 d, before rounding d to fp16), qs[j] = roundf(x[j]·id) with C {@code roundf} (halfway away from zero).
 */
final class Q8_0Codec implements BlockCodec {
    static final Q8_0Codec INSTANCE = new Q8_0Codec();
    private static final LegacyQuants QUANTS = LegacyKernels.chosen();
    private static final int QK = 32;

    private Q8_0Codec() {}

    @Override
    public GgmlType type() {
        return GgmlType.Q8_0;
    }

    /** ggml's reference quantizer through the chosen kernel ({@link LegacyKernels}: Vector API or scalar, the same bytes). */
    @Override
    public void quantizeRow(float[] x, int off, int n, MemorySegment dst, long dstOff) {
        Blocks.blocks(GgmlType.Q8_0, n);
        QUANTS.quantizeQ8_0(x, off, n, dst, dstOff);
    }

    @Override
    public void dequantizeRow(MemorySegment src, long srcOff, float[] y, int off, int n) {
        int nb = Blocks.blocks(GgmlType.Q8_0, n);
        for (int i = 0; i < nb; i++) {
            long at = srcOff + 34L * i;
            float d = Blocks.getF16(src, at);
            for (int j = 0; j < QK; j++) y[off + i * QK + j] = src.get(ValueLayout.JAVA_BYTE, at + 2 + j) * d;
        }
    }
}
