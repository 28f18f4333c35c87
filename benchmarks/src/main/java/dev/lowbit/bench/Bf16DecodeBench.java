package dev.lowbit.bench;

import dev.lowbit.kernels.ConversionKernels;
import dev.lowbit.kernels.Kernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
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
import org.openjdk.jmh.annotations.TearDown;

/**
 * Bulk 16-bit float → f32 decode from a native little-endian segment into a {@code float[]}, the checkpoint-loading
 * hot path. {@code impl} selects the Vector API kernels or the scalar baseline, measured in the same run; the score
 * is calls per second, so input GB/s = score × 2 × n / 1e9 (scripts/bench-kernels.sh prints it).
 *
 * <p>n = 4096 keeps input and output in L1/L2; n = 1 Mi (2 MiB in, 4 MiB out) streams through the caches.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class Bf16DecodeBench {
    @Param({"4096", "1048576"})
    public int n;

    @Param({"vector", "scalar"})
    public String impl;

    /** bf16 by default; {@code -p format=f16} measures the binary16 decoder the same way. */
    @Param({"bf16"})
    public String format;

    private Arena arena;
    private MemorySegment src;
    private float[] dst;
    private ConversionKernels kernels;

    @Setup(Level.Trial)
    public void setUp() {
        kernels = switch (impl) {
            case "vector" -> Kernels.vectorConversions();
            case "scalar" -> Kernels.scalarConversions();
            default -> throw new IllegalArgumentException("impl must be vector or scalar, got " + impl);
        };
        arena = Arena.ofShared();
        src = arena.allocate(2L * n, 64);
        SplittableRandom rnd = new SplittableRandom(1);
        ValueLayout.OfShort le = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            // realistic weights: small normally distributed values, never NaN
            float w = (float) (rnd.nextGaussian() * 0.02);
            short h = format.equals("f16") ? Float.floatToFloat16(w) : (short) (Float.floatToRawIntBits(w) >>> 16);
            src.set(le, 2L * i, h);
        }
        dst = new float[n];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float[] decode() {
        if (format.equals("f16")) kernels.f16ToF32(src, 0, dst, 0, n);
        else kernels.bf16ToF32(src, 0, dst, 0, n);
        return dst;
    }
}
