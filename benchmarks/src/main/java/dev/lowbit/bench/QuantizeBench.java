package dev.lowbit.bench;

import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.ptq.search.GgmlSearch;
import dev.lowbit.ptq.search.GgmlSearches;
import java.lang.foreign.Arena;
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
import org.openjdk.jmh.annotations.TearDown;

/**
 * f32 → ggml row quantization through {@link GgmlSearches} (what the GGUF pipeline calls): Q8_0 / Q4_0 are the
 * codecs' reference encodings, Q4_K / Q6_K / Q3_K / Q2_K ggml's k-quant searches (no importance), packed by the
 * codecs. Score = rows per second; input GB/s = score × 4 × n / 1e9 (scripts/bench-kernels.sh prints it, and the
 * ratio of each type to the others in the run). n = 4096 is a typical Llama hidden size (one row of a [*, 4096] weight).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class QuantizeBench {
    @Param({"4096"})
    public int n;

    @Param({"Q8_0", "Q4_0", "Q4_K", "Q6_K", "Q3_K", "Q2_K"})
    public String type;

    private Arena arena;
    private float[] row;
    private MemorySegment dst;
    private GgmlType ggml;
    private GgmlSearch search;

    @Setup(Level.Trial)
    public void setUp() {
        ggml = GgmlType.valueOf(type);
        search = GgmlSearches.forType(ggml);
        row = new float[n];
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < n; i++) row[i] = (float) (rnd.nextGaussian() * 0.02);
        arena = Arena.ofShared();
        dst = arena.allocate(ggml.byteSizeOf(n), 64);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public MemorySegment quantizeRow() {
        search.quantizeRow(row, 0, n, null, dst, 0);
        return dst;
    }
}
