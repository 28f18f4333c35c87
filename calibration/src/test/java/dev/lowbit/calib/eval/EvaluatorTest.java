package dev.lowbit.calib.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.safetensors.SafetensorsFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The evaluation pipeline on the golden 64-token window, scored both ways, against NLLs from the golden logits. */
class EvaluatorTest {
    @TempDir
    Path dir;

    /** exp(mean NLL) of golden rows {@code first..62} predicting ids {@code first+1..63}, in f64. */
    private static double goldenPerplexity(int first) {
        try (SafetensorsFile golden = SafetensorsFile.open(SharedData.data("tiny-llama-code.golden-logits.safetensors"))) {
            var ids = golden.tensor("input_ids");
            var logits = golden.tensor("logits");
            int v = (int) logits.shape().dim(1);
            double nll = 0;
            int n = 0;
            for (int j = first; j < 63; j++) {
                float[] z = logits.row(j);
                double max = Double.NEGATIVE_INFINITY;
                for (float f : z) max = Math.max(max, f);
                double sum = 0;
                for (float f : z) sum += Math.exp(f - max);
                nll -= z[(int) ids.getLong(j + 1)] - max - Math.log(sum);
                n++;
            }
            assertEquals(v, 8192);
            return Math.exp(nll / n);
        }
    }

    private Path prefixFile() throws Exception {
        String text = Files.readString(SharedData.data("eval_code.txt"), StandardCharsets.UTF_8);
        Path f = dir.resolve("prefix.txt");
        Files.writeString(f, text.substring(0, 4096));
        return f;
    }

    /**
     * Relative tolerance 1e-4: the logits agree to ~1e-5 absolute (GoldenLogitsTest), which moves a mean NLL of
     * ~2.5 by at most ~2e-5, i.e. perplexity by ~2e-5 relative; 1e-4 leaves room for reduction order.
     */
    @Test
    void referenceAndLlamaCppProtocolsOnTheGoldenWindow() throws Exception {
        Path data = prefixFile();
        for (Protocol p : Protocol.values()) {
            EvalResult r = Evaluator.evaluate(new EvalRequest(SharedData.tinyLlama(), data, 64, 1, p, null, 2, 1),
                    Evaluator.Progress.NONE);
            double expected = goldenPerplexity(p.firstScored(64));
            assertEquals(1, r.windows());
            assertEquals(p == Protocol.REFERENCE ? 63 : 31, r.scored());
            assertEquals(expected, r.perplexity(), 1e-4 * expected, p.toString());
        }
    }

    @Test
    void baselineAgainstItselfHasZeroDivergence() throws Exception {
        EvalResult r = Evaluator.evaluate(new EvalRequest(SharedData.tinyLlama(), prefixFile(), 64, 2, Protocol.REFERENCE,
                SharedData.tinyLlama(), 2, 2), Evaluator.Progress.NONE);
        assertEquals(2, r.windows());
        assertEquals(0.0, r.kl(), 1e-6);
        assertEquals(1.0, r.top1Agreement());
        assertEquals(0.0, r.maxAbsDeltaLogit());
        assertEquals(r.perplexity(), r.baselinePerplexity(), 0.0); // same model, same positions, same arithmetic
    }

    /**
     * Batches scored side by side (--threads 2: two workers, one intra-op thread each) must give what one batch after
     * the other gives (--threads 1): 7 windows of 64 in batches of 2 (an odd last batch), every token counted once,
     * the same perplexity. The sums are added in batch order either way, so only the GEMMs' rounding under another
     * intra-op thread count may differ: logits agree to ~1e-6 (GoldenLogitsTest's 1e-5 is against another
     * implementation), moving a mean NLL of ~2.5 by ~1e-6; 1e-6 relative on the perplexity is ~100× that margin
     * below a batch lost, scored twice or paired with another batch's targets (which moves it by percent).
     */
    @Test
    void batchesSideBySideScoreWhatSequentialBatchesScore() throws Exception {
        Path data = SharedData.data("eval_code.txt");
        EvalResult one = Evaluator.evaluate(new EvalRequest(SharedData.tinyLlama(), data, 64, 7, Protocol.REFERENCE, null, 1, 2),
                Evaluator.Progress.NONE);
        int[] advanced = new int[1];
        EvalResult two = Evaluator.evaluate(new EvalRequest(SharedData.tinyLlama(), data, 64, 7, Protocol.REFERENCE, null, 2, 2),
                new Evaluator.Progress() {
                    @Override
                    public void advance(int windows) {
                        advanced[0] += windows;
                    }
                });
        assertEquals(7, two.windows());
        assertEquals(7 * 63, two.scored());
        assertEquals(one.scored(), two.scored());
        assertEquals(7, advanced[0], "progress told of every window once");
        assertEquals(one.perplexity(), two.perplexity(), 1e-6 * one.perplexity());
    }

    @Test
    void textShorterThanOneWindowIsBadInput() throws Exception {
        Path f = dir.resolve("short.txt");
        Files.writeString(f, "def f():\n    return 1\n");
        var e = assertThrows(BadInputException.class, () -> Evaluator.evaluate(
                new EvalRequest(SharedData.tinyLlama(), f, 512, 0, Protocol.REFERENCE, null, 2, 1), Evaluator.Progress.NONE));
        assertTrue(e.userMessage().contains("shorter than one window of 512"), e.userMessage());
    }
}
