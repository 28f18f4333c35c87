package dev.lowbit.io.ggml;

import java.lang.foreign.MemorySegment;

/**
 * MXFP4 as ggml stores it: 32 elements in 17 bytes (4.25 bits per weight).
 *
 * <pre>
 * offset  size  field
 *      0     1  u8 e       E8M0 shared exponent (the OCP byte; 0xFF is not NaN in ggml)
 *      1    16  u8 qs[16]  low nibble of qs[j] = element j, high nibble = element j + 16
 * </pre>
 *
 * x = T[nibble]·2^(e−128), T = {@link #KVALUES} (the E2M1 values doubled, hence the −128; e &lt; 2 gives f32
 * denormal scales, still exact powers of two).
 *
 * <p>Quantizing is ggml's {@code quantize_row_mxfp4_ref}: e = floor(log2f(amax)) − 2 + 127 (0 when amax = 0; clamped
 * to 0 where ggml's uint8 cast of a negative would be undefined, amax &lt; 2⁻¹²⁵), and each element takes the entry
 * with the smallest |T[i]·d − x| in f32, the lower index on ties (so 0 and −0 encode as nibble 0).
 * {@code log2f} is taken as the correctly rounded f32 of the double log2, which matters just below a power of two.
 */
public final class Mxfp4 {
    private Mxfp4() {}

    public static final int BLOCK_SIZE = 32;
    public static final int TYPE_SIZE = 17;

    /** ggml's {@code kvalues_mxfp4}. */
    static final int[] KVALUES = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

    /** ggml's {@code GGML_E8M0_TO_FP32_HALF}: 2^(e−128), exact for every e. */
    static float e8m0Half(int e) {
        return e < 2 ? Float.intBitsToFloat(0x00200000 << e) : Float.intBitsToFloat((e - 1) << 23);
    }

    /** Dequantizes {@code n} values (a whole number of blocks) from {@code src} at {@code off} into {@code y[yOff..]}. */
    public static void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n) {
        KQuantBits.checkDequant("MXFP4", y, yOff, n, BLOCK_SIZE);
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            long blk = off + (long) b * TYPE_SIZE;
            float d = e8m0Half(KQuantBits.u8(src, blk));
            int yo = yOff + b * BLOCK_SIZE;
            for (int j = 0; j < 16; j++) {
                int q = KQuantBits.u8(src, blk + 1 + j);
                y[yo + j] = KVALUES[q & 0xF] * d;
                y[yo + j + 16] = KVALUES[q >> 4] * d;
            }
        }
    }

    /**
     * Quantizes {@code n} values {@code x[off..off+n)} (n a multiple of 32) into {@code n/32} blocks at
     * {@code dstOff}. Non-finite values are rejected with {@link IllegalArgumentException} (ggml has no defined
     * result for them). MXFP4 has no search in ggml (no weighted variant either): its spec fixes the encoding.
     */
    public static void quantizeRow(float[] x, int off, int n, MemorySegment dst, long dstOff) {
        KQuantBits.checkRow("MXFP4", x, off, n, null, BLOCK_SIZE);
        for (int b = 0; b < n / BLOCK_SIZE; b++) {
            int xo = off + b * BLOCK_SIZE;
            long blk = dstOff + (long) b * TYPE_SIZE;
            float amax = 0f;
            for (int j = 0; j < BLOCK_SIZE; j++) {
                if (amax < Math.abs(x[xo + j])) amax = Math.abs(x[xo + j]);
            }
            int e = amax > 0f ? Math.max(0, (int) Math.floor(log2f(amax)) - 2 + 127) : 0;
            float d = e8m0Half(e);
            KQuantBits.putU8(dst, blk, e);
            for (int j = 0; j < 16; j++) {
                int x0 = bestIndex(x[xo + j], d);
                int x1 = bestIndex(x[xo + j + 16], d);
                KQuantBits.putU8(dst, blk + 1 + j, x0 | (x1 << 4));
            }
        }
    }

    /** log2 rounded to f32 (as a correctly rounded {@code log2f}). */
    static float log2f(float v) {
        int exp = Math.getExponent(v);
        if (exp >= Float.MIN_EXPONENT && Float.intBitsToFloat(Float.floatToRawIntBits(v) & 0xFF800000) == v) {
            return exp; // exact power of two
        }
        return (float) (Math.log(v) / Math.log(2.0));
    }

    private static int bestIndex(float x, float e) {
        int best = 0;
        float bestErr = Math.abs(KVALUES[0] * e - x);
        for (int i = 1; i < 16; i++) {
            float err = Math.abs(KVALUES[i] * e - x);
            if (err < bestErr) {
                best = i;
                bestErr = err;
            }
        }
        return best;
    }

    /**
     * The ggml MXFP4 rows of a quantized tensor on the OCP MXFP4 scheme (E2M1 codes, one E8M0 scale per 32 consecutive
     * elements of a row), from any quantizer: row r at {@code r · (cols/32) · 17}. The bytes decode to exactly the
     * tensor's values: ggml's 2^(e−128) times its doubled table is the OCP 2^(e−127) times E2M1, and an E2M1 code is
     * the index into that table. The negative-zero code is written as 0, as ggml's encoder (lower index on ties) does:
     * the same value.
     */
    public static byte[] fromQuantized(dev.lowbit.io.quant.QuantizedTensor q) {
        dev.lowbit.io.quant.QuantScheme s = q.scheme();
        if (!s.equals(dev.lowbit.io.quant.FloatSchemes.MXFP4) || q.globalScale() != 1f) {
            throw new IllegalArgumentException(q.name() + ": GGUF MXFP4 holds the OCP MXFP4 scheme (E2M1, E8M0 per 32), not " + s);
        }
        int rows = q.rows(), cols = q.cols();
        if (cols % BLOCK_SIZE != 0) throw new IllegalArgumentException(q.name() + ": " + cols + " columns are not whole blocks of 32");
        int blocks = cols / BLOCK_SIZE;
        byte[] out = new byte[rows * blocks * TYPE_SIZE];
        byte[] codes = q.codes();
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                if (q.gIdx()[b * BLOCK_SIZE] != b) throw new IllegalArgumentException(q.name() + ": MXFP4 blocks must be sequential");
                float scale = q.scales()[r * blocks + b];
                int e = Math.getExponent(scale);
                if (!(scale > 0) || Math.scalb(1f, e) != scale) {
                    throw new IllegalArgumentException(q.name() + ": block scale " + scale + " is not a power of two");
                }
                int at = (r * blocks + b) * TYPE_SIZE;
                out[at] = (byte) dev.lowbit.kernels.FloatFormats.e8m0OfExponent(e);
                int c0 = r * cols + b * BLOCK_SIZE;
                for (int j = 0; j < 16; j++) out[at + 1 + j] = (byte) (ggmlCode(codes[c0 + j]) | ggmlCode(codes[c0 + j + 16]) << 4);
            }
        }
        return out;
    }

    /** An E2M1 code as ggml writes it: −0 (8) as 0. */
    private static int ggmlCode(byte code) {
        int c = code & 0xF;
        return c == 8 ? 0 : c;
    }
}
