package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.gptq.GptqResult;
import dev.lowbit.ptq.gptq.LossClip;
import dev.lowbit.ptq.grid.IntegerGrid;
import dev.lowbit.ptq.observe.HessianObserver;
import dev.lowbit.ptq.scheme.ClipSearch;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The GPTQ-loss clip search ({@code --loss-clip}): each row keeps the range shrink whose GPTQ result has the least
 * output error. The error is computed here independently of the sweep, as ½·Δᵀ(H + λI)Δ with Δ = w − ŵ per row (GPTQ's
 * loss Σ err²/[U]_jj² equals it exactly in real arithmetic: Δ = e·U with H⁻¹ = UᵀU, so ΔHΔᵀ = ‖e‖²).
 */
class LossClipTest {
    private static final int ROWS = 64, COLS = 256;

    private static float[] weights() {
        float[] real = TestWeights.real(TestWeights.Q_PROJ);
        float[] w = new float[ROWS * COLS];
        for (int r = 0; r < ROWS; r++) System.arraycopy(real, r * 512, w, r * COLS, COLS);
        return w;
    }

    private static double[] hessian() {
        HessianObserver obs = new HessianObserver(COLS);
        obs.add(TestWeights.correlatedInputs(7, 512, COLS, 10), 512, COLS);
        return obs.hessian();
    }

    /** ½·Δᵀ(H + λI)Δ per row, λ = 0.01·mean diag(H), all in f64. */
    private static double[] rowError(float[] w, float[] wq, double[] h) {
        double mean = 0;
        for (int i = 0; i < COLS; i++) mean += h[i * COLS + i];
        double damp = 0.01 * mean / COLS;
        double[] e = new double[ROWS];
        for (int r = 0; r < ROWS; r++) {
            double[] d = new double[COLS];
            for (int c = 0; c < COLS; c++) d[c] = (double) w[r * COLS + c] - wq[r * COLS + c];
            double s = 0;
            for (int i = 0; i < COLS; i++) {
                double hi = damp * d[i];
                for (int j = 0; j < COLS; j++) hi += h[i * COLS + j] * d[j];
                s += d[i] * hi;
            }
            e[r] = s / 2;
        }
        return e;
    }

    @Test
    void everyRowKeepsTheShrinkOfLeastOutputError() {
        float[] w = weights();
        double[] h = hessian();
        for (QuantScheme s : new QuantScheme[] {new QuantScheme(4, -1, false), new QuantScheme(3, -1, true)}) {
            GptqConfig cfg = GptqConfig.of(s).withLossClip(LossClip.DEFAULT);
            GptqResult res = Gptq.quantize("q", w, ROWS, COLS, h, cfg);
            float[] chosen = res.quantized().dequantize();
            double[] chosenErr = rowError(w, chosen, h);
            // the sweep's own loss is the output error (f32 sweep vs f64 here: 1e-4 relative is ~100 f32 ulps summed)
            double total = Arrays.stream(chosenErr).sum();
            assertEquals(total, res.loss(), 1e-4 * total, s.toString());

            double[] bestErr = new double[ROWS];
            Arrays.fill(bestErr, Double.POSITIVE_INFINITY);
            float[][] candidates = new float[LossClip.DEFAULT.steps()][];
            for (int i = 0; i < candidates.length; i++) {
                float[] p = new float[ROWS];
                Arrays.fill(p, 1 - i / 40f);
                IntegerGrid g = new IntegerGrid(s, null, null, false, ROWS, COLS).atRowShrink(p);
                Gptq.sweep("q", w, ROWS, COLS, h, cfg.options(), g, Linalg.kernels());
                candidates[i] = g.result("q").dequantize();
                double[] e = rowError(w, candidates[i], h);
                for (int r = 0; r < ROWS; r++) bestErr[r] = Math.min(bestErr[r], e[r]);
            }
            int shrunk = 0;
            for (int r = 0; r < ROWS; r++) {
                // near-ties may resolve differently in the f32 sweep loss than in f64 here: 1e-5 relative
                assertTrue(chosenErr[r] <= bestErr[r] * (1 + 1e-5), s + " row " + r + ": " + chosenErr[r] + " > " + bestErr[r]);
                // the chosen row is one candidate's row bit for bit (rows do not interact in the sweep)
                boolean found = false;
                for (int i = 0; i < candidates.length && !found; i++) {
                    found = Arrays.equals(Arrays.copyOfRange(candidates[i], r * COLS, (r + 1) * COLS), Arrays.copyOfRange(chosen, r * COLS, (r + 1) * COLS));
                    if (found && i > 0) shrunk++;
                }
                assertTrue(found, s + " row " + r + " matches no candidate sweep");
            }
            assertTrue(shrunk > 0, s + ": no row chose a shrunk range");
            // p = 1 is plain GPTQ, so no row can be worse than plain GPTQ's
            double[] plain = rowError(w, Gptq.quantize("q", w, ROWS, COLS, h, GptqConfig.of(s)).quantized().dequantize(), h);
            for (int r = 0; r < ROWS; r++) assertTrue(chosenErr[r] <= plain[r] * (1 + 1e-5), s + " row " + r);

            GptqResult again = Gptq.quantize("q", w, ROWS, COLS, h, cfg);
            assertArrayEquals(res.quantized().codes(), again.quantized().codes());
            assertArrayEquals(res.quantized().scales(), again.quantized().scales());
        }
    }

    @Test
    void perChannelOnlyAndNotBesideTheMseSearch() {
        assertThrows(IllegalArgumentException.class, () -> GptqConfig.of(new QuantScheme(4, 128, false)).withLossClip(LossClip.DEFAULT));
        assertThrows(IllegalArgumentException.class, () -> new GptqConfig(new QuantScheme(4, -1, false), 0.01, 128, false, false,
                ClipSearch.REFERENCE, null, LossClip.DEFAULT));
        assertThrows(IllegalArgumentException.class, () -> new LossClip(40, 1.0));
        assertEquals(20, LossClip.DEFAULT.steps());
    }
}
