package dev.lowbit.bench;

import dev.lowbit.kernels.legacy.LegacyKernels;
import dev.lowbit.kernels.legacy.LegacyQuants;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
 * ggml's Q8_0 / Q4_0 reference row quantizers, the scalar loop against the Vector API one ({@code kernels.legacy}),
 * same run, same rows: 64 rows of n = 4096 (a Llama hidden size) seeded Gaussians, heap output as the GGUF writer's
 * chunk buffer is. Score = rows per second; the ratio vector / scalar is the speed-up.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class LegacyQuantsBench {
    private static final int ROWS = 64;

    @Param({"4096"})
    public int n;

    @Param({"Q8_0", "Q4_0"})
    public String type;

    @Param({"scalar", "vector"})
    public String impl;

    private LegacyQuants quants;
    private float[] x;
    private MemorySegment dst;
    private boolean q8;
    private int rowBytes;

    @Setup(Level.Trial)
    public void setUp() {
        quants = impl.equals("vector") ? LegacyKernels.vector() : LegacyKernels.scalar();
        q8 = type.equals("Q8_0");
        rowBytes = n / LegacyQuants.QK * (q8 ? LegacyQuants.Q8_0_BYTES : LegacyQuants.Q4_0_BYTES);
        x = new float[ROWS * n];
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 0.02);
        dst = MemorySegment.ofArray(new byte[ROWS * rowBytes]);
    }

    /** One row per operation, cycling through 64 (so the input is not one cache-hot row). */
    private int next;

    @Benchmark
    public MemorySegment quantizeRow() {
        int r = next;
        next = (r + 1) % ROWS;
        if (q8) quants.quantizeQ8_0(x, r * n, n, dst, (long) r * rowBytes);
        else quants.quantizeQ4_0(x, r * n, n, dst, (long) r * rowBytes);
        return dst;
    }
}
