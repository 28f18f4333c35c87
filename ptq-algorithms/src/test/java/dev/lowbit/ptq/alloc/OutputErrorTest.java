package dev.lowbit.ptq.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lowbit.kernels.linalg.Linalg;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** tr(ΔW H ΔWᵀ)/n against its definition: the mean over tokens of ‖ΔW·x‖², computed token by token in f64. */
class OutputErrorTest {
    @Test
    void equalsTheMeanSquaredOutputErrorOverTokens() {
        Random rnd = new Random(3);
        int rows = 37, cols = 45, tokens = 207; // awkward sizes: no kernel tail is skipped
        float[] w = new float[rows * cols], q = new float[rows * cols], x = new float[tokens * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian();
            q[i] = Math.round(w[i] * 4) / 4f; // a 0.25-step grid: a real rounding error
        }
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * (1 + i % cols % 5));
        float[] h = new float[cols * cols];
        for (int t = 0; t < tokens; t++) {
            for (int a = 0; a < cols; a++) for (int b = 0; b < cols; b++) h[a * cols + b] += x[t * cols + a] * x[t * cols + b];
        }
        double direct = 0;
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                double y = 0;
                for (int c = 0; c < cols; c++) y += (double) (q[r * cols + c] - w[r * cols + c]) * x[t * cols + c];
                direct += y * y;
            }
        }
        direct /= tokens;
        double viaH = OutputError.of(w, q, rows, cols, h, tokens, Linalg.kernels());
        // H and ΔW·H are accumulated in f32 (≈ 1e-7 relative per term over ≤ 207 terms): 1e-4 relative is ample and
        // far below the size of any change in ΔW
        assertEquals(direct, viaH, 1e-4 * direct);
        assertEquals(0.0, OutputError.of(w, w, rows, cols, h, tokens, Linalg.kernels()));
    }
}
