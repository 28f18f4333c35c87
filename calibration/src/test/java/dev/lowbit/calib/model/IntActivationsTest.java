package dev.lowbit.calib.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lowbit.io.quant.ActivationScheme;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The runtime activation fake-quantizer against the scheme's definition written out here in plain Java. */
class IntActivationsTest {
    static final int ROWS = 7, COLS = 33;

    /** x̂ = clamp(rint(x/s), −qmax−1, qmax)·s: round half to even as torch.round, in f32 like the engine. */
    static float fake(float x, float s, int qmax) {
        if (s == 0) return 0f;
        float q = (float) Math.rint(x / s);
        return Math.max(-qmax - 1, Math.min(qmax, q)) * s;
    }

    @Test
    void perTokenPerTensorAndStatic() {
        SplittableRandom rnd = new SplittableRandom(4);
        float[] x = new float[ROWS * COLS];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * (i % COLS == 3 ? 20 : 1));
        for (int c = 0; c < COLS; c++) x[2 * COLS + c] = 0f; // an all-zero token stays zero
        try (NDManager m = DjlEngine.newManager(1)) {
            NDArray a = m.create(x, new Shape(ROWS, COLS));
            for (int bits : new int[] {8, 4}) {
                int qmax = (1 << (bits - 1)) - 1;
                float[] token = IntActivations.dynamic(ActivationScheme.intPerToken(bits)).apply(0, LinearInput.QKV, a).toFloatArray();
                float tensorMax = 0;
                for (float v : x) tensorMax = Math.max(tensorMax, Math.abs(v));
                float staticScale = tensorMax / qmax * 0.5f; // half the range: the largest values clip to −qmax−1 / qmax
                float[] stat = new IntActivations(ActivationScheme.intStaticPerTensor(bits), (l, in) -> staticScale)
                        .apply(0, LinearInput.QKV, a).toFloatArray();
                for (int r = 0; r < ROWS; r++) {
                    float rowMax = 0;
                    for (int c = 0; c < COLS; c++) rowMax = Math.max(rowMax, Math.abs(x[r * COLS + c]));
                    float s = rowMax / qmax;
                    for (int c = 0; c < COLS; c++) {
                        int i = r * COLS + c;
                        // engine division and multiplication may differ by one f32 ulp from Java's: 1e-6 relative
                        assertEquals(fake(x[i], s, qmax), token[i], 1e-6f * (1 + Math.abs(x[i])), "token " + bits + " bits at " + i);
                        assertEquals(fake(x[i], staticScale, qmax), stat[i], 1e-6f * (1 + Math.abs(x[i])), "static " + bits + " bits at " + i);
                    }
                }
            }
            ActivationQuantizer only = IntActivations.dynamic(ActivationScheme.intPerToken(4)).onlyWhere((l, in) -> in == LinearInput.DOWN);
            assertSame(a, only.apply(0, LinearInput.QKV, a));
        }
    }
}
