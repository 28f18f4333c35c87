package dev.lowbit.io.export;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class ExportRotaryPermutationTest {

    /**
     * The converter's formulation, written independently of the production index loop: a strided view
     * {@code [heads, 2, hd/2, cols]} of the rows read with axes 1 and 2 swapped, as numpy's reshape/swapaxes/reshape.
     */
    static float[] viaStridedView(float[] w, int rows, int cols, int heads) {
        int half = rows / heads / 2;
        // strides of the source view [heads, 2, half, cols]
        int sH = 2 * half * cols, sTwo = half * cols, sHalf = cols;
        float[] out = new float[w.length];
        int k = 0;
        // iterate the swapped view [heads, half, 2, cols] in C order
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                    for (int c = 0; c < cols; c++)
                        out[k++] = w[h * sH + j * sTwo + i * sHalf + c];
        return out;
    }

    static float[] random(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    @Test
    void matchesTheExplicitIndexFormulaAndTheStridedView() {
        Random r = new Random(42);
        for (int[] c : new int[][] {{512, 7, 8}, {256, 5, 4}, {12, 3, 3}, {4, 1, 1}}) {
            int rows = c[0], cols = c[1], heads = c[2], hd = rows / heads;
            float[] w = random(r, rows * cols);
            float[] p = RotaryPermutation.permuteRows(w, rows, cols, heads);
            assertArrayEquals(viaStridedView(w, rows, cols, heads), p);
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < hd / 2; i++)
                    for (int j = 0; j < 2; j++) {
                        int dst = h * hd + 2 * i + j, src = h * hd + j * (hd / 2) + i;
                        for (int col = 0; col < cols; col++) assertEquals(w[src * cols + col], p[dst * cols + col]);
                        assertEquals(src, RotaryPermutation.sourceRow(dst, rows, heads));
                    }
        }
        float[] bias = random(r, 256);
        assertArrayEquals(viaStridedView(bias, 256, 1, 4), RotaryPermutation.permuteBias(bias, 4));
        assertThrows(IllegalArgumentException.class, () -> RotaryPermutation.permuteRows(new float[10], 10, 1, 4));
        assertThrows(IllegalArgumentException.class, () -> RotaryPermutation.permuteRows(new float[12], 4, 4, 2));
    }

    /** Hugging Face rotate-half RoPE of one head vector: pairs (j, j + hd/2) rotate by angle pos·θ_j. */
    static float[] ropeHalf(float[] x, int off, int hd, int pos, double base) {
        float[] y = new float[hd];
        int half = hd / 2;
        for (int j = 0; j < half; j++) {
            double a = pos * Math.pow(base, -2.0 * j / hd);
            double c = Math.cos(a), s = Math.sin(a);
            y[j] = (float) (x[off + j] * c - x[off + j + half] * s);
            y[j + half] = (float) (x[off + j + half] * c + x[off + j] * s);
        }
        return y;
    }

    /** llama.cpp's LLAMA_ROPE_TYPE_NORM: adjacent pairs (2i, 2i+1) rotate by angle pos·θ_i. */
    static float[] ropeAdjacent(float[] x, int off, int hd, int pos, double base) {
        float[] y = new float[hd];
        for (int i = 0; i < hd / 2; i++) {
            double a = pos * Math.pow(base, -2.0 * i / hd);
            double c = Math.cos(a), s = Math.sin(a);
            y[2 * i] = (float) (x[off + 2 * i] * c - x[off + 2 * i + 1] * s);
            y[2 * i + 1] = (float) (x[off + 2 * i] * s + x[off + 2 * i + 1] * c);
        }
        return y;
    }

    static float[] matvec(float[] w, int rows, int cols, float[] x) {
        float[] y = new float[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) s += (double) w[r * cols + c] * x[c];
            y[r] = (float) s;
        }
        return y;
    }

    @Test
    void adjacentPairRotationOfPermutedWeightsEqualsRotateHalfOfTheOriginal() {
        Random r = new Random(7);
        int hidden = 96, heads = 4, kvHeads = 2, hd = 16;
        float[] wq = random(r, heads * hd * hidden);
        float[] wk = random(r, kvHeads * hd * hidden);
        float[] bq = random(r, heads * hd);
        float[] pq = RotaryPermutation.permuteRows(wq, heads * hd, hidden, heads);
        float[] pk = RotaryPermutation.permuteRows(wk, kvHeads * hd, hidden, kvHeads);
        float[] pbq = RotaryPermutation.permuteBias(bq, heads);
        float[] x1 = random(r, hidden), x2 = random(r, hidden);
        int pos1 = 5, pos2 = 1234;
        double base = 10000;
        float[] qHf = matvec(wq, heads * hd, hidden, x1), qGg = matvec(pq, heads * hd, hidden, x1);
        for (int i = 0; i < qHf.length; i++) {
            qHf[i] += bq[i];
            qGg[i] += pbq[i];
        }
        float[] kHf = matvec(wk, kvHeads * hd, hidden, x2), kGg = matvec(pk, kvHeads * hd, hidden, x2);
        for (int h = 0; h < heads; h++) {
            float[] a = ropeHalf(qHf, h * hd, hd, pos1, base);
            float[] b = ropeAdjacent(qGg, h * hd, hd, pos1, base);
            // same vector up to the row order: b[2i + j] = a[j·hd/2 + i]
            for (int i = 0; i < hd / 2; i++)
                for (int j = 0; j < 2; j++) assertEquals(a[j * hd / 2 + i], b[2 * i + j], 1e-4f * (1 + Math.abs(a[j * hd / 2 + i])));
            // and attention scores agree: q·k with GQA head h → kv head h / (heads / kvHeads)
            int kh = h / (heads / kvHeads);
            float[] ka = ropeHalf(kHf, kh * hd, hd, pos2, base), kb = ropeAdjacent(kGg, kh * hd, hd, pos2, base);
            double sa = 0, sb = 0;
            for (int d = 0; d < hd; d++) {
                sa += (double) a[d] * ka[d];
                sb += (double) b[d] * kb[d];
            }
            // float32 dot products of 16 terms of magnitude ~100: 1e-4 relative covers the summation order change
            assertEquals(sa, sb, 1e-4 * (1 + Math.abs(sa)), "head " + h);
        }
        // without the permutation the scores differ: the test can fail
        float[] wrong = ropeAdjacent(matvec(wq, heads * hd, hidden, x1), 0, hd, pos1, base);
        float[] right = ropeHalf(matvec(wq, heads * hd, hidden, x1), 0, hd, pos1, base);
        assertNotEquals(right[1], wrong[1], 1e-3f);
    }

    @Test
    void destinationRowInvertsSourceRow() {
        for (int[] c : new int[][] {{512, 8}, {256, 4}, {12, 3}, {4, 1}, {2, 1}}) {
            int rows = c[0], heads = c[1];
            boolean[] seen = new boolean[rows];
            for (int dst = 0; dst < rows; dst++) {
                int src = RotaryPermutation.sourceRow(dst, rows, heads);
                assertEquals(dst, RotaryPermutation.destinationRow(src, rows, heads), rows + "/" + heads + " row " + dst);
                assertFalse(seen[src], "a permutation");
                seen[src] = true;
            }
        }
    }
}
