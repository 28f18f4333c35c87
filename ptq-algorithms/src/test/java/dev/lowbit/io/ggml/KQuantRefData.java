package dev.lowbit.io.ggml;

import dev.lowbit.io.SharedData;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * The ggml reference vectors in {@code ../shared/data/ggml-ref} (885 rows × 256 f32 of stories260K, and for each type
 * the bytes llama.cpp's reference quantizer made of them plus ggml's dequantization of those bytes), and the measures
 * the codec tests share. Not a test itself.
 */
final class KQuantRefData {
    private KQuantRefData() {}

    static final int ROWS = 885;
    static final int COLS = 256;

    static final Path DIR = SharedData.resolve("data/ggml-ref");

    /** One codec under test: its static row methods as functions. */
    interface Dequantizer {
        void dequantizeRow(MemorySegment src, long off, float[] y, int yOff, int n);
    }

    interface Quantizer {
        void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff);
    }

    record Codec(String name, int blockSize, int typeSize, Dequantizer deq, Quantizer quant) {
        long rowBytes(int n) {
            return (long) n / blockSize * typeSize;
        }
    }

    static float[] readF32(String file) throws IOException {
        byte[] b = Files.readAllBytes(DIR.resolve(file));
        float[] f = new float[b.length / 4];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    static float[] matrix() throws IOException {
        return readF32("stories260K_matrices.f32");
    }

    static MemorySegment readBytes(String file) throws IOException {
        return MemorySegment.ofArray(Files.readAllBytes(DIR.resolve(file)));
    }

    /** Dequantizes every row of {@code q}. */
    static float[] dequantizeAll(Codec c, MemorySegment q) {
        float[] y = new float[ROWS * COLS];
        for (int r = 0; r < ROWS; r++) c.deq().dequantizeRow(q, r * c.rowBytes(COLS), y, r * COLS, COLS);
        return y;
    }

    /** Quantizes every row of {@code x} (with the same per-column importance for every row, or none). */
    static MemorySegment quantizeAll(Codec c, float[] x, float[] importance) {
        MemorySegment q = Arena.ofAuto().allocate(c.rowBytes(COLS) * ROWS);
        for (int r = 0; r < ROWS; r++) c.quant().quantizeRow(x, r * COLS, COLS, importance, q, r * c.rowBytes(COLS));
        return q;
    }

    static double rmse(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            s += d * d;
        }
        return Math.sqrt(s / a.length);
    }

    /** √(Σ imp[col]·(a − b)² / Σ imp[col]) over all rows. */
    static double weightedRmse(float[] a, float[] b, float[] imp) {
        double s = 0, w = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            s += imp[i % COLS] * d * d;
            w += imp[i % COLS];
        }
        return Math.sqrt(s / w);
    }

    /** Index of the first float whose bits differ, or −1. */
    static int firstBitMismatch(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) return i;
        }
        return -1;
    }

    /** Number of blocks whose bytes differ between two quantized matrices. */
    static int differingBlocks(Codec c, MemorySegment a, MemorySegment b) {
        int n = 0;
        long blocks = a.byteSize() / c.typeSize();
        for (long i = 0; i < blocks; i++) {
            long o = i * c.typeSize();
            if (a.asSlice(o, c.typeSize()).mismatch(b.asSlice(o, c.typeSize())) != -1) n++;
        }
        return n;
    }

    /**
     * A synthetic importance matrix: per input channel mean x² of made-up activations, log-normal so that a few
     * channels dominate as in real imatrix files. Fixed seed.
     */
    static float[] syntheticImportance(long seed) {
        Random rnd = new Random(seed);
        float[] imp = new float[COLS];
        for (int i = 0; i < COLS; i++) imp[i] = (float) Math.exp(1.5 * rnd.nextGaussian());
        return imp;
    }
}
