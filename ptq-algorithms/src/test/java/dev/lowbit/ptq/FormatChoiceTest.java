package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.ptq.select.FormatChoice;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The INT-vs-FP choice: its error is the output error under H, and the budget bounds what may be chosen. */
class FormatChoiceTest {
    static final int ROWS = 32, COLS = 128, TOKENS = 256;

    @Test
    void outputErrorIsTheHessianQuadraticForm() {
        float[] w = TestWeights.gaussian(1, ROWS * COLS, 0.05f);
        float[] q = TestWeights.gaussian(2, ROWS * COLS, 0.05f);
        double[] h = GgmlGridTest.hessian(TestWeights.correlatedInputs(3, TOKENS, COLS, 4), TOKENS, COLS);
        double want = GgmlGridTest.outputError(w, q, h, ROWS, COLS);
        // f32 GEMM against the f64 reference: relative 1e-4 covers f32 accumulation over 256 terms
        assertEquals(want, FormatChoice.outputError(w, q, h, ROWS, COLS), Math.abs(want) * 1e-4);
    }

    @Test
    void choosesTheLowestErrorWithinTheBudget() {
        float[] w = java.util.Arrays.copyOf(TestWeights.real(TestWeights.DOWN_PROJ), ROWS * COLS);
        double[] h = GgmlGridTest.hessian(TestWeights.correlatedInputs(4, TOKENS, COLS, 8), TOKENS, COLS);
        List<FormatChoice.Candidate> cs = FormatChoice.defaults();
        for (double budget : new double[] {4.25, 4.5, 5.0}) {
            FormatChoice.Result r = FormatChoice.choose("d", w, ROWS, COLS, h, cs, budget);
            assertTrue(r.chosen() >= 0);
            assertTrue(cs.get(r.chosen()).bitsPerWeight() <= budget);
            for (int i = 0; i < cs.size(); i++) {
                assertTrue(r.errors()[i] > 0, cs.get(i).name());
                if (cs.get(i).bitsPerWeight() <= budget) assertTrue(r.errors()[r.chosen()] <= r.errors()[i], cs.get(i).name());
            }
        }
        assertEquals(-1, FormatChoice.choose("d", w, ROWS, COLS, h, cs, 4.0).chosen(), "nothing fits 4.0 bits");
        // more bits of the same kind never lose: INT4 g32 asym (4.625) beats INT4 g128 asym (4.156) on real weights
        FormatChoice.Result r = FormatChoice.choose("d", w, ROWS, COLS, h, cs, 5.0);
        assertTrue(r.errors()[5] < r.errors()[0], "g32 " + r.errors()[5] + " vs g128 " + r.errors()[0]);
    }
}
