package dev.lowbit.pipeline.gguf;

import static org.junit.jupiter.api.Assertions.*;

import dev.lowbit.calib.model.LlamaConfig;
import dev.lowbit.calib.tokenize.ModelTokenizer;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GGUF → Hugging Face view against the checkpoint it came from: our F32 export seen through the view gives back
 * every tensor of tiny-llama-code bit for bit (names, shapes, q/k row order), the synthesised tokenizer.json
 * tokenizes like the original, and the synthesised config.json describes the same model.
 */
class GgufModelViewTest {
    static final Path TINY = GgufPipelineTest.TINY;

    @TempDir
    static Path tmp;
    static Path f32;

    @BeforeAll
    static void export() {
        f32 = tmp.resolve("tiny-f32.gguf");
        GgufQuantizePipeline.run(GgufQuantizePipeline.Request.convert(TINY, f32, LlamaFtype.ALL_F32, false, 2));
    }

    @Test
    void viewOfTheF32ExportEqualsTheCheckpoint() {
        try (GgufModelView view = GgufModelView.open(f32); TensorSource hf = ShardedSafetensors.open(TINY)) {
            assertEquals(new TreeSet<>(hf.names()), new TreeSet<>(view.names()));
            for (String n : hf.names()) {
                Tensor want = hf.tensor(n);
                Tensor got = view.tensor(n);
                assertEquals(want.shape(), got.shape(), n);
                float[] a = want.toFloatArray(), b = got.toFloatArray();
                for (int i = 0; i < a.length; i++) {
                    if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) fail(n + "[" + i + "]: " + b[i] + " != " + a[i]);
                }
            }
        }
    }

    @Test
    void synthesisedTokenizerTokenizesLikeTheOriginal() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("tok"));
        try (GgufModelView view = GgufModelView.open(f32)) {
            Files.writeString(dir.resolve("tokenizer.json"), GgufTokenizerJson.synthesize(view.file()));
        }
        String text = Files.readString(GgufPipelineTest.SHARED.resolve("data/eval_code.txt")).substring(0, 10_000);
        try (ModelTokenizer orig = ModelTokenizer.open(TINY); ModelTokenizer synth = ModelTokenizer.open(dir)) {
            int[] want = orig.encode(text);
            assertTrue(want.length > 1000);
            assertArrayEquals(want, synth.encode(text));
            assertEquals(orig.bosToken(), synth.bosToken(), "add_bos_token is false for this model");
            // specials survive as single tokens
            assertArrayEquals(orig.encode("<|endoftext|>x<|pad|>"), synth.encode("<|endoftext|>x<|pad|>"));
        }
    }

    @Test
    void synthesisedConfigDescribesTheSameModel() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("cfg"));
        try (GgufModelView view = GgufModelView.open(f32)) {
            Files.writeString(dir.resolve("config.json"), view.configJson());
        }
        LlamaConfig want = LlamaConfig.fromJson(TINY);
        LlamaConfig got = LlamaConfig.fromJson(dir);
        assertEquals(want.hiddenSize(), got.hiddenSize());
        assertEquals(want.numLayers(), got.numLayers());
        assertEquals(want.numHeads(), got.numHeads());
        assertEquals(want.numKvHeads(), got.numKvHeads());
        assertEquals(want.vocabSize(), got.vocabSize());
        assertEquals(want.architecture(), got.architecture());
        assertEquals(want.toString(), got.toString());
    }
}
