package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;

/**
 * IQ4_NL: 32 elements in 18 bytes (4.5 bits per weight), a 4-bit index into a fixed non-linear table.
 *
 * <pre>
 * offset  size  field
 *      0     2  fp16 d
 *      2    16  u8 qs[16]  low nibble of qs[j] = element j, high nibble = element j + 16
 * </pre>
 *
 * x = d·T[nibble], T = {@link #KVALUES} = {−127, −104, −83, −65, −49, −35, −22, −10, 1, 13, 25, 38, 53, 69, 89, 113}.
 *
 * <p>Quantizing follows ggml's {@code quantize_iq4_nl} ({@code quantize_row_iq4_nl_impl} with one 32-block per
 * super-block and ntry 7, see {@link KQuantSearch#iq4BlockScale}); importance, when given, weighs each element by
 * imp·√(σ² + x²) with σ² = 2·Σx²/32, otherwise by x².
 */
public final class Iq4Nl {
    private Iq4Nl() {}

    public static final int BLOCK_SIZE = 32;
    public static final int TYPE_SIZE = 18;

    /** ggml's {@code kvalues_iq4nl}, sorted ascending. */
    static final int[] KVALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    /** Search half-width of the IQ4 scale search ({@code ntry} in ggml). */
    static final int NTRY = 7;

    /** Dequantizes {@code n} values (a whole number of blocks) from {@code src} at {@code off} into {@code y[yOff..]}. */
    public static void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n) {
        KQuantBits.checkDequant("IQ4_NL", y, yOff, n, BLOCK_SIZE);
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            long blk = off + (long) b * TYPE_SIZE;
            float d = KQuantBits.f16(src, blk);
            int yo = yOff + b * BLOCK_SIZE;
            for (int j = 0; j < 16; j++) {
                int q = KQuantBits.u8(src, blk + 2 + j);
                y[yo + j] = d * KVALUES[q & 0xF];
                y[yo + j + 16] = d * KVALUES[q >> 4];
            }
        }
    }

    /**
     * Quantizes {@code n} values {@code x[off..off+n)} (n a multiple of 32) into {@code n/32} blocks at
     * {@code dstOff}. Non-finite values are rejected with {@link IllegalArgumentException} (ggml has no defined
     * result for them). {@code importance} (nullable) holds one weight per element of the row, indexed from 0.
     */
    public static void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
        KQuantBits.checkRow("IQ4_NL", x, off, n, importance, BLOCK_SIZE);
        float[] weight = new float[32];
        int[] L = new int[32];
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            int xo = off + b * BLOCK_SIZE;
            long blk = dstOff + (long) b * TYPE_SIZE;
            iq4Weights(x, xo, BLOCK_SIZE, importance, b * BLOCK_SIZE, sigma2(x, xo, BLOCK_SIZE), weight, 0);
            float d = KQuantSearch.iq4BlockScale(x, xo, 32, weight, KVALUES, NTRY, L, 0);
            KQuantBits.putF16(dst, blk, d);
            float id = d != 0 ? 1 / d : 0;
            for (int j = 0; j < 32; j++) L[j] = KQuantSearch.bestIndexInt8(16, KVALUES, id * x[xo + j]);
            for (int j = 0; j < 16; j++) KQuantBits.putU8(dst, blk + 2 + j, L[j] | (L[j + 16] << 4));
        }
    }

    /** σ² = 2·Σx²/superBlockSize over {@code x[xo..xo+superBlockSize)}, summed in order in f32. */
    static float sigma2(float[] x, int xo, int superBlockSize) {
        float s = 0;
        for (int j = 0; j < superBlockSize; j++) s += x[xo + j] * x[xo + j];
        return s * (2.f / superBlockSize);
    }

    /** The IQ4 element weights of one 32-block into {@code weight[wo..wo+32)}: imp·√(σ² + x²), or x². */
    static void iq4Weights(float[] x, int xo, int superBlockSize, float[] importance, int io, float sigma2,
                           float[] weight, int wo) {
        for (int j = 0; j < 32; j++) {
            float xv = x[xo + j];
            weight[wo + j] = importance != null ? importance[io + j] * (float) Math.sqrt(sigma2 + xv * xv) : xv * xv;
        }
    }
}
