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
class ScaledActivationsTest {
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
                float[] token = ScaledActivations.dynamic(ActivationScheme.intPerToken(bits)).apply(0, LinearInput.QKV, a).toFloatArray();
                float tensorMax = 0;
                for (float v : x) tensorMax = Math.max(tensorMax, Math.abs(v));
                float staticScale = tensorMax / qmax * 0.5f; // half the range: the largest values clip to −qmax−1 / qmax
                float[] stat = new ScaledActivations(ActivationScheme.intStaticPerTensor(bits), (l, in) -> staticScale)
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
            ActivationQuantizer only = ScaledActivations.dynamic(ActivationScheme.intPerToken(4)).onlyWhere((l, in) -> in == LinearInput.DOWN);
            assertSame(a, only.apply(0, LinearInput.QKV, a));
        }
    }

    /**
     * A clip ratio c scales s = c·max|x_t|/qmax, so the largest values clamp: one token [1, 0.3, −0.5, 0.1] at 4 bits
     * (qmax 7) with c = 0.5 has s = 1/14, x/s = [14, 4.2, −7, 1.4] → [7 (clamped), 4, −7, 1], i.e.
     * [0.5, 2/7, −0.5, 1/14]; with c = 1 the first value is kept (s = 1/7, x/s = 7).
     */
    @Test
    void clipRatioScalesTheScaleAndClampsTheLargestValues() {
        try (NDManager m = DjlEngine.newManager(1)) {
            NDArray a = m.create(new float[] {1f, 0.3f, -0.5f, 0.1f}, new Shape(1, 4));
            ScaledActivations q = ScaledActivations.dynamic(ActivationScheme.intPerToken(4));
            float[] clipped = q.withClip(0.5f).apply(0, LinearInput.DOWN, a).toFloatArray();
            float[] want = {0.5f, 2f / 7, -0.5f, 1f / 14};
            for (int i = 0; i < 4; i++) assertEquals(want[i], clipped[i], 1e-6f, "clipped at " + i);
            assertEquals(1f, q.apply(0, LinearInput.DOWN, a).toFloatArray()[0], 1e-6f);
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> q.withClip(0f));
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> q.withClip(1.5f));
        }
    }

    /**
     * FP8 rounding against the scalar E4M3 codec (itself checked over every code and rounding boundary in native):
     * every finite E4M3 value, every midpoint between neighbours (ties go to the even code), values just either side
     * of each midpoint, and random values over the whole range, subnormals included. Exact: the engine only divides
     * and multiplies by powers of two and rounds, all exact in f32.
     */
    @Test
    void fp8RoundingIsE4m3RoundToNearestEven() {
        java.util.List<Float> values = new java.util.ArrayList<>();
        float prev = 0;
        for (int code = 0; code <= 0x7E; code++) {
            float v = dev.lowbit.kernels.FloatFormats.e4m3ToF32((byte) code);
            float mid = (prev + v) / 2;
            for (float x : new float[] {v, mid, Math.nextUp(mid), Math.nextDown(mid)}) {
                values.add(x);
                values.add(-x);
            }
            prev = v;
        }
        SplittableRandom rnd = new SplittableRandom(11);
        for (int i = 0; i < 4000; i++) values.add((float) (Math.scalb(rnd.nextDouble(-1, 1), rnd.nextInt(-12, 9))));
        float[] x = new float[values.size()];
        for (int i = 0; i < x.length; i++) x[i] = Math.max(-448f, Math.min(448f, values.get(i)));
        try (NDManager m = DjlEngine.newManager(1)) {
            float[] got = ScaledActivations.roundE4m3(m.create(x)).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                float want = dev.lowbit.kernels.FloatFormats.e4m3ToF32(dev.lowbit.kernels.FloatFormats.f32ToE4m3(x[i]));
                assertEquals(want, got[i], 0f, "x = " + x[i]);
            }
            // per token: the row maximum maps to 448 exactly and comes back as itself
            NDArray a = m.create(new float[] {3f, -1.1f, 0.2f, 0f, 0f, 0f}, new Shape(2, 3));
            float[] q = ScaledActivations.dynamic(ActivationScheme.fp8PerToken()).apply(0, LinearInput.DOWN, a).toFloatArray();
            assertEquals(3f, q[0], 1e-6f);
            float s = 3f / 448;
            assertEquals(dev.lowbit.kernels.FloatFormats.e4m3ToF32(dev.lowbit.kernels.FloatFormats.f32ToE4m3(-1.1f / s)) * s, q[1], 1e-6f);
            assertEquals(0f, q[3], 0f, "an all-zero token stays zero");
        }
    }
}
