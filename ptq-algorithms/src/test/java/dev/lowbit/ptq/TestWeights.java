package dev.lowbit.ptq;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.kernels.linalg.Linalg;
import java.nio.file.Path;
import java.util.Random;

/** Weights and inputs shared by the algorithm tests. */
public final class TestWeights {
    private TestWeights() {}

    /** A real trained weight of tiny-llama-code decoded from bf16 to f32 (row-major, out_features × in_features). */
    public static float[] real(String name) {
        try (TensorSource src = ShardedSafetensors.open(SharedData.tinyLlama())) {
            return src.tensor(name).toFloatArray();
        }
    }

    public static final String Q_PROJ = "model.layers.0.self_attn.q_proj.weight";
    public static final String DOWN_PROJ = "model.layers.0.mlp.down_proj.weight";

    public static float[] gaussian(long seed, int n, float sigma) {
        Random rnd = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (sigma * rnd.nextGaussian());
        return a;
    }

    /**
     * Correlated inputs with uneven channel scales, like a Linear's activations: x = z·M with z standard normal,
     * M = diag(s)·(I + 0.3·G/√cols), s log-uniform over [1/spread, spread] so a few channels dominate diag(H).
     */
    public static float[] correlatedInputs(long seed, int rows, int cols, double spread) {
        Random rnd = new Random(seed);
        float[] m = new float[cols * cols];
        for (int i = 0; i < cols; i++) {
            double s = Math.exp((rnd.nextDouble() * 2 - 1) * Math.log(spread));
            for (int j = 0; j < cols; j++) {
                double v = (i == j ? 1 : 0) + 0.3 * rnd.nextGaussian() / Math.sqrt(cols);
                m[i * cols + j] = (float) (s * v);
            }
        }
        float[] z = gaussian(seed + 1, rows * cols, 1f);
        float[] x = new float[rows * cols];
        Linalg.kernels().gemm(rows, cols, cols, 1f, z, 0, cols, m, 0, cols, x, 0, cols);
        return x;
    }
}
