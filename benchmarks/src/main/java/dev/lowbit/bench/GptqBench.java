package dev.lowbit.bench;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.observe.HessianObserver;
import dev.lowbit.ptq.rtn.Rtn;
import java.util.SplittableRandom;
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
 * GPTQ on one real tiny-llama-code matrix ({@code model.layers.0.mlp.up_proj}, 1536 × 512, w4 g128), with RTN of the
 * same matrix as the baseline in the same run (scripts/bench-kernels.sh GptqBench prints each and the ratios are
 * score / rtn). The Hessian is Σxxᵀ of 16 384 correlated synthetic input rows with uneven channel scales (a few
 * channels dominate diag H, as in a real Linear); it is built once per trial and not timed. End-to-end GPTQ wall time
 * of a whole model is scripts/bench-gptq.sh.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GptqBench {
    static final String WEIGHT = "model.layers.0.mlp.up_proj.weight";
    static final int ROWS = 1536, COLS = 512, INPUT_ROWS = 16_384;

    /** GPTQ's lazy-batch block width. */
    @Param({"128"})
    public int blockSize;

    private float[] w;
    private double[] h;
    private QuantScheme scheme;

    @Setup(Level.Trial)
    public void setUp() {
        try (TensorSource src = ShardedSafetensors.open(SharedData.tinyLlama())) {
            w = src.tensor(WEIGHT).toFloatArray();
        }
        HessianObserver obs = new HessianObserver(COLS);
        obs.add(correlatedInputs(1, INPUT_ROWS, COLS), INPUT_ROWS, COLS);
        h = obs.hessian();
        scheme = new QuantScheme(4, 128, false);
    }

    @Benchmark
    public Object rtn() {
        return Rtn.rtn(WEIGHT, w, ROWS, COLS, scheme);
    }

    @Benchmark
    public Object gptq() {
        return Gptq.quantize(WEIGHT, w, ROWS, COLS, h.clone(), GptqConfig.of(scheme).withBlockSize(blockSize));
    }

    @Benchmark
    public Object gptqActOrder() {
        return Gptq.quantize(WEIGHT, w, ROWS, COLS, h.clone(),
                GptqConfig.of(scheme).withBlockSize(blockSize).withActOrder(true, false));
    }

    /** x = z·diag(s)·(I + 0.3·G/√cols): z, G standard normal, s log-uniform in [1/10, 10]. */
    static float[] correlatedInputs(long seed, int rows, int cols) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] m = new double[cols * cols];
        for (int i = 0; i < cols; i++) {
            double s = Math.exp((rnd.nextDouble() * 2 - 1) * Math.log(10));
            for (int j = 0; j < cols; j++) m[i * cols + j] = s * ((i == j ? 1 : 0) + 0.3 * rnd.nextGaussian() / Math.sqrt(cols));
        }
        float[] x = new float[rows * cols];
        double[] z = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) z[i] = rnd.nextGaussian();
            for (int j = 0; j < cols; j++) {
                double acc = 0;
                for (int i = 0; i < cols; i++) acc += z[i] * m[i * cols + j];
                x[r * cols + j] = (float) acc;
            }
        }
        return x;
    }
}
