package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.ggml.KQuantRefData.Codec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;

/**
 * Properties every codec of this package must have, whatever its layout; the per-family test classes run them.
 * Not a test itself.
 */
final class KQuantInvariants {
    private KQuantInvariants() {}

    static MemorySegment quantize(Codec c, float[] x, float[] importance) {
        MemorySegment q = Arena.ofAuto().allocate(c.rowBytes(x.length));
        c.quant().quantizeRow(x, 0, x.length, importance, q, 0);
        return q;
    }

    static float[] dequantize(Codec c, MemorySegment q, int n) {
        float[] y = new float[n];
        c.deq().dequantizeRow(q, 0, y, 0, n);
        return y;
    }

    /** Gaussian values with a few outliers, the shape of trained weights. Fixed seed. */
    static float[] weights(int n, long seed) {
        Random rnd = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (0.02 * rnd.nextGaussian() * (rnd.nextInt(50) == 0 ? 8 : 1));
        return x;
    }

    /** NaN and ±Inf are rejected (ggml has no defined result for them), naming the type and the element. */
    static void rejectsNonFinite(Codec c) {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            float[] x = weights(c.blockSize() * 2, 1);
            x[c.blockSize() + 3] = bad;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> quantize(c, x, null));
            assertTrue(e.getMessage().contains("element " + (c.blockSize() + 3)), e::getMessage);
        }
    }

    /** Rows whose length is not a multiple of the block size, and slices outside the array, are refused. */
    static void rejectsBadGeometry(Codec c) {
        float[] x = new float[c.blockSize() + 1];
        MemorySegment q = Arena.ofAuto().allocate(c.rowBytes(2 * c.blockSize()));
        assertThrows(IllegalArgumentException.class, () -> c.quant().quantizeRow(x, 0, x.length, null, q, 0));
        assertThrows(IndexOutOfBoundsException.class,
                () -> c.quant().quantizeRow(x, 2, c.blockSize(), null, q, 0));
        assertThrows(IllegalArgumentException.class,
                () -> c.deq().dequantizeRow(q, 0, new float[c.blockSize() + 1], 0, c.blockSize() + 1));
        assertThrows(IllegalArgumentException.class,
                () -> c.quant().quantizeRow(x, 0, c.blockSize(), new float[c.blockSize() - 1], q, 0));
    }

    /** An all-zero row dequantizes to zeros. */
    static void allZeroRow(Codec c) {
        float[] y = dequantize(c, quantize(c, new float[3 * c.blockSize()], null), 3 * c.blockSize());
        for (float v : y) assertEquals(0f, v, 0f);
        float[] imp = new float[3 * c.blockSize()];
        Arrays.fill(imp, 1f);
        float[] yi = dequantize(c, quantize(c, new float[3 * c.blockSize()], imp), 3 * c.blockSize());
        for (float v : yi) assertEquals(0f, v, 0f);
    }

    /**
     * A constant row comes back constant and close: every element of a block gets the same code, so all outputs are
     * equal, within {@code relTol} of the input (the type's worst relative grid spacing near the value, plus fp16).
     */
    static void constantRow(Codec c, float value, float relTol) {
        float[] x = new float[2 * c.blockSize()];
        Arrays.fill(x, value);
        float[] y = dequantize(c, quantize(c, x, null), x.length);
        for (float v : y) assertEquals(y[0], v, 0f, c.name() + ": constant row dequantized unevenly");
        assertEquals(value, y[0], Math.abs(value) * relTol, c.name() + ": constant " + value);
    }

    /**
     * Blocks are independent: a row of several blocks (the last one of much smaller magnitude, the awkward one)
     * quantizes to the concatenation of its blocks quantized one by one, at any source and destination offset, with
     * and without importance.
     */
    static void blocksAreIndependent(Codec c) {
        int n = 3 * c.blockSize();
        float[] x = weights(n, 7);
        // 100× smaller: still above the range where fp16 d underflows (Q6_K's d ≈ amax/4096 must stay ≳ 1e-7;
        // below that ggml's blocks dequantize to zero too)
        for (int i = 2 * c.blockSize(); i < n; i++) x[i] *= 1e-2f;
        float[] imp = new float[n];
        Random rnd = new Random(3);
        for (int i = 0; i < n; i++) imp[i] = (float) Math.exp(rnd.nextGaussian());
        for (float[] importance : new float[][] {null, imp}) {
            int pad = 5;
            float[] shifted = new float[n + pad];
            System.arraycopy(x, 0, shifted, pad, n);
            long blockBytes = c.rowBytes(c.blockSize());
            MemorySegment whole = Arena.ofAuto().allocate(c.rowBytes(n) + 3);
            c.quant().quantizeRow(shifted, pad, n, importance, whole, 3);
            for (int b = 0; b < 3; b++) {
                MemorySegment one = Arena.ofAuto().allocate(blockBytes);
                float[] imp1 = importance == null ? null
                        : Arrays.copyOfRange(importance, b * c.blockSize(), (b + 1) * c.blockSize());
                c.quant().quantizeRow(x, b * c.blockSize(), c.blockSize(), imp1, one, 0);
                assertEquals(-1, whole.asSlice(3 + b * blockBytes, blockBytes).mismatch(one),
                        c.name() + ": block " + b + " differs when quantized alone");
            }
            float[] y = new float[n + 2];
            c.deq().dequantizeRow(whole, 3, y, 2, n);
            float[] last = dequantize(c, whole.asSlice(3 + 2 * blockBytes, blockBytes), c.blockSize());
            assertArrayEquals(last, Arrays.copyOfRange(y, 2 + 2 * c.blockSize(), 2 + n));
            // the small last block keeps its own scale: had it borrowed the row's, it would round to ~0 (error ≈ energy);
            // 0.75 leaves room for ternary types, whose absmax scale loses about half the energy of Gaussian weights
            double err = 0, mag = 0;
            for (int i = 2 * c.blockSize(); i < n; i++) {
                err += Math.pow(y[2 + i] - x[i], 2);
                mag += (double) x[i] * x[i];
            }
            assertTrue(err < 0.75 * mag, c.name() + ": last block error " + err + " vs energy " + mag);
        }
    }

    /** On many random rows, the importance-weighted search does not raise the importance-weighted squared error. */
    static void importanceDoesNotHurtWeightedError(Codec c) {
        int rows = 64, n = 256;
        float[] imp = KQuantRefData.syntheticImportance(11);
        double wPlain = 0, wImp = 0;
        for (int r = 0; r < rows; r++) {
            float[] x = weights(n, 100 + r);
            float[] yPlain = dequantize(c, quantize(c, x, null), n);
            float[] yImp = dequantize(c, quantize(c, x, imp), n);
            for (int i = 0; i < n; i++) {
                wPlain += imp[i] * Math.pow(yPlain[i] - x[i], 2);
                wImp += imp[i] * Math.pow(yImp[i] - x[i], 2);
            }
        }
        double plain = wPlain, weighted = wImp;
        assertTrue(weighted <= plain, () -> c.name() + ": weighted error with importance " + weighted + " > " + plain);
    }
}
