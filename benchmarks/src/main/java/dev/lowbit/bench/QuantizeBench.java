// PENDING: enable after merging the branch that adds dev.lowbit.io.ggml.BlockCodec / BlockCodecs (legacy ggml block
// codecs, commit 74e9c4a on the ggml branch). It is not on the `kernels` branch, so this file is named *.pending to
// stay out of the build. To enable: `git mv QuantizeBench.java.pending QuantizeBench.java`, then
// `scripts/bench-kernels.sh QuantizeBench`. Written against BlockCodec#quantizeRow(float[], int, int, MemorySegment,
// long), BlockCodec#rowBytes(int) and BlockCodecs#forType(GgmlType).
package dev.lowbit.bench;

import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlType;
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
 * f32 → Q8_0 / Q4_0 row quantization (ggml reference quantizers). Score = rows per second; input GB/s =
 * score × 4 × n / 1e9 (scripts/bench-kernels.sh prints it, and the ratio of each type to the others in the run).
 * n = 4096 is a typical Llama hidden size (one row of a [*, 4096] weight).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class QuantizeBench {
    @Param({"4096"})
    public int n;

    @Param({"Q8_0", "Q4_0"})
    public String type;

    private Arena arena;
    private float[] row;
    private MemorySegment dst;
    private BlockCodec codec;

    @Setup(Level.Trial)
    public void setUp() {
        codec = BlockCodecs.forType(GgmlType.valueOf(type));
        row = new float[n];
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < n; i++) row[i] = (float) (rnd.nextGaussian() * 0.02);
        arena = Arena.ofShared();
        dst = arena.allocate(codec.rowBytes(n), 64);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public MemorySegment quantizeRow() {
        codec.quantizeRow(row, 0, n, dst, 0);
        return dst;
    }
}
