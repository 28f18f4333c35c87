package dev.lowbit.pipeline.gguf;

import static org.junit.jupiter.api.Assertions.*;

import dev.lowbit.calib.eval.EvalRequest;
import dev.lowbit.calib.eval.EvalResult;
import dev.lowbit.calib.eval.Evaluator;
import dev.lowbit.calib.eval.Protocol;
import dev.lowbit.calib.model.LlamaConfig;
import dev.lowbit.calib.tokenize.ModelTokenizer;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.io.imatrix.Imatrix;
import dev.lowbit.io.model.GgufModelSource;
import dev.lowbit.io.model.HfModelSource;
import dev.lowbit.io.model.ModelSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A GGUF read as a {@link ModelSource} against the checkpoint it came from: our F32 export gives back every tensor of
 * tiny-llama-code bit for bit (names, shapes, q/k row order, rows read one at a time or in any chunk), the synthesised
 * tokenizer tokenizes like the original, and the synthesised config describes the same model.
 */
class GgufModelSourceTest {
    static final Path TINY = GgufPipelineTest.TINY;

    @TempDir
    static Path tmp;
    static Path f32;

    @BeforeAll
    static void export() {
        f32 = tmp.resolve("tiny-f32.gguf");
        GgufRequests.run(GgufRequests.Request.convert(TINY, f32, LlamaFtype.ALL_F32, false, 2));
    }

    @Test
    void opensByContentNotByName() throws IOException {
        try (ModelSource g = ModelSource.open(f32); ModelSource h = ModelSource.open(TINY)) {
            assertInstanceOf(GgufModelSource.class, g);
            assertInstanceOf(HfModelSource.class, h);
        }
        Path notGguf = Files.writeString(tmp.resolve("model.gguf.txt"), "hello");
        BadInputException e = assertThrows(BadInputException.class, () -> ModelSource.open(notGguf));
        assertTrue(e.userMessage().contains("not a GGUF file"), e.userMessage());
        assertThrows(BadInputException.class, () -> ModelSource.open(tmp.resolve("absent")));
    }

    @Test
    void rowsOfTheF32ExportEqualTheCheckpoint() {
        try (ModelSource gguf = ModelSource.open(f32); ModelSource hf = ModelSource.open(TINY)) {
            assertEquals(new TreeSet<>(hf.tensorNames()), new TreeSet<>(gguf.tensorNames()));
            for (String n : hf.tensorNames()) {
                assertArrayEquals(hf.shape(n), gguf.shape(n), n);
                float[] a = hf.readAll(n), b = gguf.readAll(n);
                for (int i = 0; i < a.length; i++) {
                    if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) fail(n + "[" + i + "]: " + b[i] + " != " + a[i]);
                }
            }
            // a permuted tensor read a few rows at a time, from an odd start, lands where the whole read put it
            String q = "model.layers.3.self_attn.q_proj.weight";
            int len = gguf.rowLength(q);
            float[] whole = hf.readAll(q);
            float[] part = new float[7 * len + 3];
            gguf.readRows(q, 61, 7, part, 3);
            for (int i = 0; i < 7 * len; i++) assertEquals(whole[61 * len + i], part[3 + i], "row " + (61 + i / len));
            assertThrows(IllegalArgumentException.class, () -> gguf.readRows(q, gguf.rowCount(q) - 1, 2, new float[2 * len], 0));
            assertThrows(BadInputException.class, () -> gguf.shape("model.layers.99.mlp.up_proj.weight"));
        }
    }

    @Test
    void synthesisedTokenizerTokenizesLikeTheOriginal() throws IOException {
        String text = Files.readString(GgufPipelineTest.SHARED.resolve("data/eval_code.txt")).substring(0, 10_000);
        try (ModelTokenizer orig = ModelTokenizer.open(TINY); ModelTokenizer synth = ModelTokenizer.open(f32)) {
            int[] want = orig.encode(text);
            assertTrue(want.length > 1000);
            assertArrayEquals(want, synth.encode(text));
            assertEquals(orig.bosToken(), synth.bosToken(), "add_bos_token is false for this model");
            // specials survive as single tokens
            assertArrayEquals(orig.encode("<|endoftext|>x<|pad|>"), synth.encode("<|endoftext|>x<|pad|>"));
        }
    }

    @Test
    void synthesisedConfigDescribesTheSameModel() {
        LlamaConfig want = LlamaConfig.fromJson(TINY);
        LlamaConfig got;
        try (ModelSource gguf = ModelSource.open(f32)) {
            got = LlamaConfig.of(gguf);
            assertEquals("LlamaForCausalLM", gguf.architecture());
            assertTrue(gguf.tokenizerFile().isEmpty(), "nothing is written to disk");
        }
        assertEquals(want.hiddenSize(), got.hiddenSize());
        assertEquals(want.numLayers(), got.numLayers());
        assertEquals(want.numHeads(), got.numHeads());
        assertEquals(want.numKvHeads(), got.numKvHeads());
        assertEquals(want.vocabSize(), got.vocabSize());
        assertEquals(want.architecture(), got.architecture());
        assertEquals(want.toString(), got.toString());
    }

    @Test
    void evaluatingTheF32GgufInPlaceGivesTheCheckpointsPerplexity() {
        Path data = GgufPipelineTest.SHARED.resolve("data/eval_code.txt");
        EvalResult want = Evaluator.evaluate(new EvalRequest(TINY, data, 64, 2, Protocol.LLAMACPP, null, 2, 2), Evaluator.Progress.NONE);
        EvalResult got = Evaluator.evaluate(new EvalRequest(f32, data, 64, 2, Protocol.LLAMACPP, null, 2, 2), Evaluator.Progress.NONE);
        // the same f32 weights through the same graph: the same bits, so the same perplexity
        assertEquals(want.perplexity(), got.perplexity(), 0.0);
        assertEquals(want.scored(), got.scored());
    }

    @Test
    void importanceMatrixFromTheGgufEqualsTheOneFromTheCheckpoint() {
        Path text = GgufPipelineTest.SHARED.resolve("data/calib_code.txt");
        Imatrix want = ImatrixCalibration.compute(TINY, text, 64, 2, 2);
        Imatrix got = ImatrixCalibration.compute(f32, text, 64, 2, 2);
        assertEquals(want.entries().keySet(), got.entries().keySet());
        assertEquals(6 * 7, got.entries().size());
        want.entries().forEach((name, e) -> {
            assertArrayEquals(e.inSum2(), got.entries().get(name).inSum2(), name);
            assertArrayEquals(e.counts(), got.entries().get(name).counts(), name);
        });
    }

    @Test
    void gptqOutputFromAGgufIsRefusedInOneLine() {
        java.io.PrintStream old = System.err;
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(err, true));
        int code;
        try {
            code = dev.lowbit.cli.Main.execute("quantize", f32.toString(), "-o", tmp.resolve("gptq-out").toString(), "--method", "rtn");
        } finally {
            System.setErr(old);
        }
        assertEquals(2, code, err.toString());
        assertTrue(err.toString().contains("--format gguf"), err.toString());
        assertEquals(1, err.toString().strip().lines().count(), err.toString());
    }
}
