package dev.lowbit.kernels.legacy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The reference loops of {@link LegacyQuants}, element by element; each row is assembled on the heap and copied once. */
final class ScalarLegacyQuants implements LegacyQuants {
    static final ScalarLegacyQuants INSTANCE = new ScalarLegacyQuants();

    private ScalarLegacyQuants() {}

    @Override
    public void quantizeQ8_0(float[] x, int xo, int n, MemorySegment dst, long off) {
        int nb = LegacyQuants.blocks(n);
        byte[] row = new byte[Q8_0_BYTES * nb];
        for (int i = 0; i < nb; i++) {
            int base = xo + i * QK, at = Q8_0_BYTES * i;
            float amax = 0f;
            for (int j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[base + j]));
            float d = amax / 127;
            float id = d != 0f ? 1.0f / d : 0f;
            putF16(row, at, d);
            for (int j = 0; j < QK; j++) row[at + 2 + j] = (byte) LegacyQuants.roundf(x[base + j] * id);
        }
        MemorySegment.copy(row, 0, dst, ValueLayout.JAVA_BYTE, off, row.length);
    }

    @Override
    public void quantizeQ4_0(float[] x, int xo, int n, MemorySegment dst, long off) {
        int nb = LegacyQuants.blocks(n);
        byte[] row = new byte[Q4_0_BYTES * nb];
        for (int i = 0; i < nb; i++) {
            int base = xo + i * QK, at = Q4_0_BYTES * i;
            float d = LegacyQuants.signedAbsMax(x, base, QK) / -8;
            float id = d != 0f ? 1.0f / d : 0f;
            putF16(row, at, d);
            for (int j = 0; j < QK / 2; j++) {
                int q0 = Math.min(15, (int) (x[base + j] * id + 8.5f));
                int q1 = Math.min(15, (int) (x[base + QK / 2 + j] * id + 8.5f));
                row[at + 2 + j] = (byte) (q0 | q1 << 4);
            }
        }
        MemorySegment.copy(row, 0, dst, ValueLayout.JAVA_BYTE, off, row.length);
    }

    static void putF16(byte[] row, int at, float d) {
        short h = Float.floatToFloat16(d);
        row[at] = (byte) h;
        row[at + 1] = (byte) (h >> 8);
    }

}
