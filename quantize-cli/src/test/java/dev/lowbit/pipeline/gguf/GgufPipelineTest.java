package dev.lowbit.pipeline.gguf;

import static org.junit.jupiter.api.Assertions.*;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.export.ExportPlan;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.io.export.PlannedTensor;
import dev.lowbit.io.export.QuantMix;
import dev.lowbit.io.export.RotaryPermutation;
import dev.lowbit.io.export.TensorNames;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GGUF export pipeline against independent references: the Hugging Face checkpoint itself (an F32 export must
 * hold its exact values, q/k rows permuted) and llama.cpp's own quantizer output for stories260K (our files must be
 * byte-identical, metadata included).
 */
class GgufPipelineTest {
    static final Path SHARED = SharedData.root();
    static final Path TINY = SHARED.resolve("models/tiny-llama-code");
    static final Path STORIES = SHARED.resolve("data/gguf/stories260K");
    static final Path STORIES_F32 = STORIES.resolve("stories260K-f32.gguf");

    @TempDir
    Path tmp;

    static GgufRequests.Request request(Path model, Path out, LlamaFtype f, List<String> tensorTypes) {
        return new GgufRequests.Request(model, out, f, null, null, 0, 0, tensorTypes, false, false, false, 2);
    }

    @Test
    void f32ExportHoldsTheCheckpointExactly() {
        Path out = tmp.resolve("tiny-f32.gguf");
        GgufQuantizeReport rep = GgufRequests.run(GgufRequests.Request.convert(TINY, out, LlamaFtype.ALL_F32, false, 2));
        assertEquals(27_269_632L, rep.parameters());
        assertEquals(32.0, rep.bitsPerWeight(), 1e-9);
        TensorNames names = TensorNames.forArchitecture("llama");
        try (GgufFile g = GgufFile.open(out); TensorSource hf = ShardedSafetensors.open(TINY)) {
            assertTrue(g.hasLlamaCppLayout());
            assertEquals(0, g.get("general.file_type").asInt());
            int checked = 0;
            for (String hfName : hf.names()) {
                if (names.skipped(hfName)) continue;
                Tensor src = hf.tensor(hfName);
                TensorNames.Mapping m = names.map(hfName, src.shape().dims());
                GgufTensorInfo info = g.tensorInfo(m.ggufName());
                assertEquals(GgmlType.F32, info.type(), m.ggufName());
                assertArrayEquals(m.ggufDims(), info.dims(), m.ggufName());
                float[] want = src.toFloatArray();
                float[] got = g.tensor(m.ggufName()).toFloatArray();
                int cols = (int) m.ggufDims()[0];
                int rows = want.length / cols;
                int heads = switch (m.rows()) {
                    case PERMUTE_Q -> 8;
                    case PERMUTE_K -> 4;
                    case AS_IS -> 0;
                };
                for (int r = 0; r < rows; r++) {
                    int s = heads == 0 ? r : RotaryPermutation.sourceRow(r, rows, heads);
                    for (int c = 0; c < cols; c++) {
                        // bf16 → f32 is exact: compare bit patterns, not within a tolerance
                        if (Float.floatToRawIntBits(want[s * cols + c]) != Float.floatToRawIntBits(got[r * cols + c])) {
                            fail(m.ggufName() + " row " + r + " col " + c + ": " + got[r * cols + c] + " != " + want[s * cols + c]);
                        }
                    }
                }
                checked++;
            }
            assertEquals(g.tensorInfos().size(), checked);
        }
    }

    /** llama.cpp's stories260K files were made with ffn_down kept F16 (its 172-wide rows fit no 32-block). */
    @Test
    void storiesQ8_0AndQ4_0AreByteIdenticalToLlamaCpp() throws IOException {
        for (LlamaFtype f : List.of(LlamaFtype.Q8_0, LlamaFtype.Q4_0)) {
            Path out = tmp.resolve("st-" + f + ".gguf");
            GgufRequests.run(request(STORIES_F32, out, f, List.of("ffn_down=F16")));
            Path ref = STORIES.resolve("stories260K-" + f + ".gguf");
            assertEquals(-1L, Files.mismatch(out, ref), f + ": first differing byte");
        }
    }

    /** Q4_K_M on 64-wide rows falls back to Q5_0/Q8_0 (llama.cpp's tensor_type_fallback); types and bytes as llama.cpp. */
    @Test
    void storiesQ4_K_MHasThePlannedTypesAndLlamaCppBytes() {
        Path out = tmp.resolve("st-q4km.gguf");
        GgufQuantizeReport rep = GgufRequests.run(request(STORIES_F32, out, LlamaFtype.Q4_K_M, List.of()));
        ExportPlan plan;
        try (var src = dev.lowbit.io.model.ModelSource.open(STORIES_F32)) {
            plan = GgufLayout.of(src, dev.lowbit.io.export.BitAllocation.llamaCpp(QuantMix.Options.of(LlamaFtype.Q4_K_M))).plan();
        }
        try (GgufFile g = GgufFile.open(out); GgufFile ref = GgufFile.open(STORIES.resolve("stories260K-Q4_K_M.gguf"))) {
            assertEquals(plan.tensors().size(), g.tensorInfos().size());
            for (int i = 0; i < plan.tensors().size(); i++) {
                PlannedTensor p = plan.tensors().get(i);
                GgufTensorInfo t = g.tensorInfos().get(i);
                assertEquals(p.name(), t.name());
                assertEquals(p.type(), t.type(), p.name());
                assertEquals(ref.tensorInfo(p.name()).type(), t.type(), p.name());
                assertEquals(ref.data(p.name()).mismatch(g.data(p.name())), -1L, p.name());
            }
            assertEquals(15, g.get("general.file_type").asInt());
        }
        assertEquals(3, rep.typeCounts().get("Q8_0"));
    }

    @Test
    void misfitRowsAreRefusedByNameBeforeAnythingIsWritten() throws IOException {
        Path out = tmp.resolve("misfit.gguf");
        BadInputException e = assertThrows(BadInputException.class,
                () -> GgufRequests.run(request(STORIES_F32, out, LlamaFtype.Q8_0, List.of())));
        assertTrue(e.getMessage().contains("'blk.0.ffn_down.weight' row 172 vs Q8_0 block 32"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertFalse(Files.exists(out));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(0, s.count(), "no temporary file left behind");
        }
    }

    @Test
    void anExistingOutputIsReplacedOnlyWithForceAndOnlyWhenLowbitWroteIt() throws IOException {
        Path theirs = tmp.resolve("exists.gguf");
        Files.writeString(theirs, "keep me");
        assertThrows(BadInputException.class,
                () -> GgufRequests.run(request(STORIES_F32, theirs, LlamaFtype.Q4_0, List.of("ffn_down=F16"))));
        BadInputException e = assertThrows(BadInputException.class, () -> GgufRequests.run(new GgufRequests.Request(
                STORIES_F32, theirs, LlamaFtype.Q4_0, null, null, 0, 0, List.of("ffn_down=F16"), false, false, true, 1)));
        assertTrue(e.getMessage().contains("was not written by lowbit"), e.getMessage());
        assertEquals("keep me", Files.readString(theirs));
        Path out = tmp.resolve("ours.gguf");
        GgufRequests.run(request(STORIES_F32, out, LlamaFtype.Q8_0, List.of("ffn_down=F16")));
        GgufRequests.run(new GgufRequests.Request(STORIES_F32, out, LlamaFtype.Q4_0, null, null, 0, 0,
                List.of("ffn_down=F16"), false, false, true, 1));
        assertEquals(-1L, Files.mismatch(out, STORIES.resolve("stories260K-Q4_0.gguf")), "one thread gives the same bytes");
    }

    @Test
    void requantizingNeedsConsent() {
        Path q8 = STORIES.resolve("stories260K-Q8_0.gguf");
        Path out = tmp.resolve("re.gguf");
        BadInputException e = assertThrows(BadInputException.class,
                () -> GgufRequests.run(request(q8, out, LlamaFtype.Q4_0, List.of("ffn_down=F16"))));
        assertTrue(e.getMessage().contains("is already Q8_0"), e.getMessage());
        assertFalse(Files.exists(out));
        GgufQuantizeReport r = GgufRequests.run(new GgufRequests.Request(q8, out, LlamaFtype.Q4_0, null, null,
                0, 0, List.of("ffn_down=F16"), false, true, false, 2));
        assertEquals(31, r.typeCounts().get("Q4_0"));
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(LlamaFtype.Q4_0.id(), g.get("general.file_type").asInt());
            assertEquals(2, g.get("general.quantization_version").asInt());
            // dequantize-then-quantize: every value lies on the new Q4_0 grid and near the Q8_0 source
            float[] a = g.dequantize("blk.0.attn_q.weight").toFloatArray();
            try (GgufFile src = GgufFile.open(q8)) {
                float[] b = src.dequantize("blk.0.attn_q.weight").toFloatArray();
                double err = 0, norm = 0;
                for (int i = 0; i < a.length; i++) {
                    err += (a[i] - b[i]) * (a[i] - b[i]);
                    norm += b[i] * b[i];
                }
                assertTrue(err / norm < 0.02, "relative squared error " + err / norm);
            }
        }
    }
}
