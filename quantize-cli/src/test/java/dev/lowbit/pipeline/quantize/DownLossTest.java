package dev.lowbit.pipeline.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lowbit.calib.model.DjlEngine;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * AWQ's down_proj loss 1/(N·D)·‖A·(W' − W)ᵀ‖² both ways the pipeline forms it — the direct product a block of ΔW's
 * rows at a time (the 7B shape, K ≥ N) and the Gram matrix AᵀA (tiny-llama-code, K < N) — against the sum written out
 * here in f64. 37 rows in blocks of 5 (a short last block of 2): a block skipped, repeated or shifted changes the sum.
 */
class DownLossTest {
    @Test
    void directBlocksAndGramAgreeWithTheSumWrittenOut() {
        int n = 300, k = 40, d = 37;
        SplittableRandom rnd = new SplittableRandom(17);
        float[] a = new float[n * k], w = new float[d * k], cur = new float[d * k];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < w.length; i++) {
            cur[i] = (float) rnd.nextGaussian();
            w[i] = cur[i] + (float) (0.01 * rnd.nextGaussian());
        }
        double want = 0;
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < d; r++) {
                double y = 0;
                for (int c = 0; c < k; c++) y += (double) a[t * k + c] * ((double) w[r * k + c] - cur[r * k + c]);
                want += y * y;
            }
        }
        want /= (double) n * d;
        try (NDManager m = DjlEngine.newManager(2); NDArray x = m.create(a, new Shape(n, k)); NDArray gram = x.transpose().matMul(x)) {
            double direct = BlockLoss.directDownLoss(m, x, w, cur, d, k, 5 * k);
            double whole = BlockLoss.directDownLoss(m, x, w, cur, d, k, Integer.MAX_VALUE);
            double viaGram = BlockLoss.gramDownLoss(m, gram, n, w, cur, d, k);
            // f32 products of 40 terms and f32 sums of ≤ 11,100 squares: ~1e-6 relative; 1e-4 leaves room, while a
            // missing or doubled block of 5 of 37 rows moves the sum by ~14 %
            assertEquals(want, direct, 1e-4 * want);
            assertEquals(want, whole, 1e-4 * want);
            assertEquals(want, viaGram, 1e-4 * want);
            // ΔW's blocks live in an arena, not in direct buffers of manager.create(float[]): the same f32 operations on
            // the same values, so the same bits as that form (AWQ's choices at the 7B shape do not move)
            double viaCreate = 0;
            for (int from = 0; from < d; from += 5) {
                int to = Math.min(d, from + 5);
                float[] delta = new float[(to - from) * k];
                for (int i = 0; i < delta.length; i++) delta[i] = w[from * k + i] - cur[from * k + i];
                try (NDArray dd = m.create(delta, new Shape(to - from, k)); NDArray out = x.matMul(dd.transpose());
                     NDArray sum = out.mul(out).sum()) {
                    viaCreate += sum.getFloat();
                }
            }
            assertEquals(viaCreate / ((double) n * d), direct, 0.0);
        }
    }
}
