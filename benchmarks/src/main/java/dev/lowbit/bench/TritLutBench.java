package dev.lowbit.bench;

import dev.lowbit.kernels.trit.TritLut;
import dev.lowbit.kernels.trit.TritMatrix;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
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
 *   <li>{@code dequantGemv}: dequantize each row from the same packed codes into an f32 buffer, then an f32 dot product
 *       (what a runtime without a ternary kernel does, row by row so the f32 row stays in L1);</li>
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

    @Param({"4096x4096", "512x512", "256x512", "1536x512", "512x1536"})
    public String shape;

    @Param({"vector", "scalar"})
    public String impl;

    private int rows, cols;
    private TritMatrix m;
    private TritLut lut;
    private float[] x, y, w, row;

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
        lut = impl.equals("vector") ? TritLut.vector() : TritLut.scalar();
        x = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextGaussian();
        y = new float[rows];
        w = m.dequantize();
        row = new float[cols];
    }

    @Benchmark
    public float[] lut() {
        lut.gemv(m, x, 0, y, 0);
        return y;
    }

    @Benchmark
    public float[] dequantGemv() {
        for (int r = 0; r < rows; r++) {
            m.dequantizeRow(r, row);
            y[r] = dot(row, 0);
        }
        return y;
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
