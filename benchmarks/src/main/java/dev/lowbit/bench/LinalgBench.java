package dev.lowbit.bench;

import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.kernels.linalg.LinalgKernels;
import dev.lowbit.kernels.linalg.ScalarLinalg;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The linear-algebra kernels at GPTQ sizes, vector vs scalar in the same run. Time per operation; GFLOP/s =
 * flops / time, counting GEMM as 2n³, SYRK of n rows as n³ (one triangle: n·n(n+1)/2 multiply-adds) and Cholesky
 * as n³/3 (scripts/bench-linalg.sh prints them). The DJL/PyTorch baseline is {@link LinalgDjlBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 2, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class LinalgBench {
    @Param({"512", "1536", "4096"})
    public int n;

    @Param({"vector", "scalar"})
    public String impl;

    private LinalgKernels k;
    private float[] a, b, c;
    private double[] spd, work;

    @Setup(Level.Trial)
    public void setUp() {
        k = "scalar".equals(impl) ? new ScalarLinalg() : Linalg.kernels();
        Random rnd = new Random(1);
        a = new float[n * n];
        b = new float[n * n];
        c = new float[n * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
            b[i] = (float) rnd.nextGaussian();
        }
        // SPD: H = XᵀX/n + I from the same random X, in f64
        float[] h = new float[n * n];
        Linalg.kernels().syrk(n, n, a, 0, n, h);
        spd = new double[n * n];
        for (int i = 0; i < spd.length; i++) spd[i] = h[i] / n;
        for (int i = 0; i < n; i++) spd[i * n + i] += 1;
        work = new double[n * n];
    }

    @Benchmark
    public float[] gemm() {
        k.gemm(n, n, n, 1f, a, 0, n, b, 0, n, c, 0, n);
        return c;
    }

    @Benchmark
    public float[] syrk() {
        k.syrk(n, n, a, 0, n, c);
        return c;
    }

    @Benchmark
    public double[] cholesky() {
        System.arraycopy(spd, 0, work, 0, spd.length);
        k.cholesky(n, work);
        return work;
    }
}
