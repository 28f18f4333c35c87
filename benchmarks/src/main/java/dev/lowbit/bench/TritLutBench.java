package dev.lowbit.bench;

import dev.lowbit.kernels.trit.TritLut;
import dev.lowbit.kernels.trit.TritMatrix;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Batch-1 GEMV on a two-plane trit matrix (groups of 128), one thread, three ways in the same run:
 * <ul>
 *   <li>{@code lut}: the multiplication-free LUT kernel on the packed codes;</li>
 *   <li>{@code dequantGemv}: dequantize each row from the same trits, stored row-major at 2 bits per trit (16 trits per
 *       int, trit j at bits 2j, as the file's {@code 2bit} packing and TQ2_0 hold them), into an f32 buffer, then an f32
 *       dot product (what a runtime without a ternary kernel does, row by row so the f32 row stays in L1). The decode is
 *       vectorized too for {@code impl=vector} (broadcast one int, shift lanes by 0, 2, …, 30, mask, convert, fma by α),
 *       a 256-entry byte table for {@code impl=scalar};</li>
 *   <li>{@code f32Gemv}: the f32 GEMV on the already dequantized matrix (4 bytes per weight in memory).</li>
 * </ul>
 * {@code impl} picks the vector or scalar path of each (the LUT kernel's, and the dot product's). Shapes: 4096 × 4096
 * and tiny-llama-code's Linears (q/o 512 × 512, k/v 256 × 512, gate/up 1536 × 512, down 512 × 1536). Score: GEMVs per
 * second; {@code scripts/bench-trit.sh} prints each method's ratio to the others.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class TritLutBench {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> F16 = FloatVector.SPECIES_512;

    @Param({"4096x4096", "512x512", "256x512", "1536x512", "512x1536"})
    public String shape;

    @Param({"vector", "scalar"})
    public String impl;

    private int rows, cols;
    private TritMatrix m;
    private TritLut lut;
    private float[] x, y, w, row;
    /** Row-major 2-bit codes per plane: {@code packed[p][r·cols/16 + k]} holds columns 16k..16k+15 at bits 2j. */
    private int[][] packed;
    /** Row-major scales per plane: {@code scale[p][r·groups + g]}. */
    private float[][] scale;
    /** Scalar decode table: the four trits of byte b at {@code TRITS[4b + n]}. */
    private static final float[] TRITS = new float[1024];
    private static final IntVector SHIFTS = IntVector.fromArray(IntVector.SPECIES_512,
            new int[] {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}, 0);

    static {
        for (int b = 0; b < 256; b++) {
            for (int n = 0; n < 4; n++) TRITS[4 * b + n] = ((b >> (2 * n)) & 3) - 1;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        String[] d = shape.split("x");
        rows = Integer.parseInt(d[0]);
        cols = Integer.parseInt(d[1]);
        SplittableRandom rnd = new SplittableRandom(1);
        int groups = cols / 128;
        byte[][] codes = new byte[2][rows * cols];
        float[][] scales = new float[2][rows * groups];
        for (int p = 0; p < 2; p++) {
            for (int i = 0; i < codes[p].length; i++) codes[p][i] = (byte) rnd.nextInt(3);
            for (int i = 0; i < scales[p].length; i++) scales[p][i] = (float) (rnd.nextGaussian() * 0.02);
        }
        m = TritMatrix.of(rows, cols, 128, codes, scales);
        packed = new int[2][rows * cols / 16];
        for (int p = 0; p < 2; p++) {
            for (int i = 0; i < codes[p].length; i++) packed[p][i >> 4] |= codes[p][i] << (2 * (i & 15));
        }
        scale = scales;
        lut = impl.equals("vector") ? TritLut.vector() : TritLut.scalar();
        x = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextGaussian();
        y = new float[rows];
        w = m.dequantize();
        row = new float[cols];
        // the baseline decodes the same matrix: every row must equal the kernel layout's dequantization exactly
        // (a sum of two exact products; only the sign of a zero may differ, so compare with ==)
        for (int r = 0; r < rows; r++) {
            if (impl.equals("scalar")) decodeRowScalar(r);
            else decodeRowVector(r);
            for (int c = 0; c < cols; c++) {
                if (row[c] != w[r * cols + c]) throw new IllegalStateException("decode differs at [" + r + ", " + c + "]");
            }
        }
    }

    @Benchmark
    public float[] lut() {
        lut.gemv(m, x, 0, y, 0);
        return y;
    }

    @Benchmark
    public float[] dequantGemv() {
        for (int r = 0; r < rows; r++) {
            if (impl.equals("scalar")) decodeRowScalar(r);
            else decodeRowVector(r);
            y[r] = dot(row, 0);
        }
        return y;
    }

    /** Row r = Σₚ αₚ·tₚ into {@code row}, 16 columns per step: one int of codes broadcast, lanes shifted by 2j. */
    private void decodeRowVector(int r) {
        int groups = cols / 128, words = cols / 16;
        for (int g = 0; g < groups; g++) {
            FloatVector a0 = FloatVector.broadcast(F16, scale[0][r * groups + g]);
            FloatVector a1 = FloatVector.broadcast(F16, scale[1][r * groups + g]);
            for (int k = g * 8; k < g * 8 + 8; k++) {
                FloatVector t0 = trits(packed[0][r * words + k]), t1 = trits(packed[1][r * words + k]);
                t1.mul(a1).add(t0.mul(a0)).intoArray(row, k * 16);
            }
        }
    }

    private static FloatVector trits(int word) {
        IntVector q = IntVector.broadcast(IntVector.SPECIES_512, word).lanewise(VectorOperators.LSHR, SHIFTS).and(3).sub(1);
        return (FloatVector) q.convert(VectorOperators.I2F, 0);
    }

    /** The same with a byte → four trits table. */
    private void decodeRowScalar(int r) {
        int groups = cols / 128, words = cols / 16;
        for (int g = 0; g < groups; g++) {
            float a0 = scale[0][r * groups + g], a1 = scale[1][r * groups + g];
            for (int k = g * 8; k < g * 8 + 8; k++) {
                int w0 = packed[0][r * words + k], w1 = packed[1][r * words + k];
                for (int n = 0; n < 16; n++) {
                    int b0 = (w0 >>> (8 * (n >> 2))) & 255, b1 = (w1 >>> (8 * (n >> 2))) & 255;
                    row[k * 16 + n] = TRITS[4 * b1 + (n & 3)] * a1 + TRITS[4 * b0 + (n & 3)] * a0;
                }
            }
        }
    }

    @Benchmark
    public float[] f32Gemv() {
        for (int r = 0; r < rows; r++) y[r] = dot(w, r * cols);
        return y;
    }

    private float dot(float[] a, int off) {
        if (impl.equals("scalar")) {
            float s = 0;
            for (int c = 0; c < cols; c++) s = Math.fma(a[off + c], x[c], s);
            return s;
        }
        FloatVector acc = FloatVector.zero(F);
        int c = 0;
        for (int end = F.loopBound(cols); c < end; c += F.length()) {
            acc = FloatVector.fromArray(F, a, off + c).fma(FloatVector.fromArray(F, x, c), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) s = Math.fma(a[off + c], x[c], s);
        return s;
    }
}
