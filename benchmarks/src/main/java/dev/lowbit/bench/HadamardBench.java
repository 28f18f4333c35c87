package dev.lowbit.bench;

import dev.lowbit.kernels.hadamard.Hadamard;
import dev.lowbit.kernels.hadamard.HadamardKernels;
import dev.lowbit.kernels.hadamard.WalshHadamardKernels;
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
 * The orthonormal Hadamard transform on a batch of 64 rows of size n, the shape of an online rotation on a batch of
 * tokens or of fusing a rotation into a weight matrix. {@code impl} selects the Vector API Walsh–Hadamard kernel or the
 * scalar reference, measured in the same run; the score is batches per second, so input GB/s = score × 4 × 64 × n / 1e9
 * (scripts/bench-kernels.sh prints it). n = 64, 512, 2048 and 4096 are pure Walsh–Hadamard (tiny-llama-code's head
 * dimension, R2/R3; its hidden size, R1; a 1B's MLP width; a 7B's hidden size); n = 768 = 12·64 and 1536 = 12·128 add
 * the Paley-12 mixing step (a BERT-base-sized hidden; tiny-llama-code's MLP width, R4).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class HadamardBench {
    /** Rows per batch. */
    public static final int ROWS = 64;

    @Param({"64", "512", "768", "1536", "2048", "4096"})
    public int n;

    @Param({"vector", "scalar"})
    public String impl;

    private Hadamard transform;
    private float[] x;

    @Setup(Level.Trial)
    public void setUp() {
        WalshHadamardKernels k = switch (impl) {
            case "vector" -> HadamardKernels.vector();
            case "scalar" -> HadamardKernels.scalar();
            default -> throw new IllegalArgumentException("impl must be vector or scalar, got " + impl);
        };
        transform = Hadamard.tryOf(n, k).orElseThrow();
        x = new float[ROWS * n];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
    }

    /** Orthonormal, so repeated application keeps the data bounded; no reset needed between calls. */
    @Benchmark
    public float[] rows() {
        transform.applyRows(x, 0, ROWS);
        return x;
    }
}
