package dev.lowbit.calib.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.lowbit.io.SharedData;
import dev.lowbit.calib.tokenize.ModelTokenizer;
import dev.lowbit.io.safetensors.SafetensorsFile;
import dev.lowbit.io.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** tiny-llama-code on the first 64 tokens of eval_code.txt against the reference implementation's logits. */
class GoldenLogitsTest {
    /**
     * Max |Δlogit| allowed. Both sides compute in f32 from the same bf16 weights; they differ only in summation
     * order (BLAS blocking, softmax/RMSNorm reductions), i.e. relative error ~ √n·2⁻²⁴ per dot product of length
     * n ≤ 1536, compounded over 6 layers. Logits here reach |z| ≈ 20, so 2e-3 (1e-4 relative) is ~10× the expected
     * drift and still far below anything a wrong RoPE convention, GQA head mapping or missing norm would cause
     * (those move logits by O(1)).
     */
    static final double TOLERANCE = 2e-3;

    @Test
    void tokenizerAndLogitsMatchGolden() throws Exception {
        try (SafetensorsFile golden = SafetensorsFile.open(SharedData.data("tiny-llama-code.golden-logits.safetensors"))) {
            Tensor idsTensor = golden.tensor("input_ids");
            int n = (int) idsTensor.elementCount();
            int[] expectedIds = new int[n];
            for (int i = 0; i < n; i++) expectedIds[i] = (int) idsTensor.getLong(i);

            // the first 64 tokens of the whole file: a 4 KB prefix is far more than 64 tokens, and the pieces
            // near token 64 do not depend on text thousands of characters later
            String text = Files.readString(SharedData.data("eval_code.txt"), StandardCharsets.UTF_8);
            int[] ids;
            try (ModelTokenizer tok = ModelTokenizer.open(SharedData.tinyLlama())) {
                ids = java.util.Arrays.copyOf(tok.encode(text.substring(0, 4096)), n);
            }
            assertArrayEquals(expectedIds, ids, "tokenizer ids differ from the golden input_ids");

            float[] expected = golden.tensor("logits").toFloatArray();
            try (LlamaRunner runner = LlamaRunner.open(SharedData.tinyLlama(), 2)) {
                NDArray h = runner.embed(new int[][] {ids});
                for (int l = 0; l < runner.config().numLayers(); l++) {
                    NDArray next = runner.runLayer(l, h, LinearHook.NONE);
                    h.close();
                    h = next;
                }
                NDArray logits = runner.finalLogits(h);
                float[] got = logits.toFloatArray();
                double maxDiff = 0;
                for (int i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
                assertTrue(got.length == expected.length, "logit count");
                assertTrue(maxDiff <= TOLERANCE, "max |Δlogit| = " + maxDiff);
                System.out.println("golden logits: max |Δ| = " + maxDiff);
            }
        }
    }
}
