package dev.lowbit.pipeline.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.io.export.RotaryPermutation;
import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.TensorSource;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --method gptq} into GGUF on tiny-llama-code (a short calibration set, to keep the test quick): the file has
 * llama-quantize's mix and size, everything that is not a decoder Linear is byte for byte what the plain path
 * writes, and every Linear decodes to its checkpoint weight in llama.cpp's row order (q/k rows rope-permuted).
 */
class GgufGptqPipelineTest {
    static final Path SHARED = GgufPipelineTest.SHARED;
    static final Path TINY = GgufPipelineTest.TINY;
    static final Path CALIB = SHARED.resolve("data/calib_code.txt");
    static final GgufGptq.GptqOptions GPTQ = new GgufGptq.GptqOptions(0.01, 128, false, true, false);
    static final Map<String, String> LINEARS = Map.of("attn_q", "self_attn.q_proj", "attn_k", "self_attn.k_proj",
            "attn_v", "self_attn.v_proj", "attn_output", "self_attn.o_proj", "ffn_gate", "mlp.gate_proj",
            "ffn_up", "mlp.up_proj", "ffn_down", "mlp.down_proj");

    @TempDir
    Path tmp;

    static GgufRequests.Request request(Path out, GgufGptq.GptqOptions gptq, Path model) {
        return new GgufRequests.Request(model, out, LlamaFtype.Q3_K_M, null, gptq == null ? null : CALIB, 4, 128,
                List.of(), false, false, false, 2, gptq);
    }

    @Test
    void gptqFileHasTheMixAndDecodesToTheCheckpoint() {
        Path g = tmp.resolve("gptq.gguf"), p = tmp.resolve("plain.gguf");
        GgufQuantizeReport rep = GgufRequests.run(request(g, GPTQ, TINY));
        GgufRequests.run(request(p, null, TINY));
        assertEquals(42, rep.gptqTensors());
        assertTrue(rep.rtnFallbacks().isEmpty());
        try (GgufFile gf = GgufFile.open(g); GgufFile pf = GgufFile.open(p);
             TensorSource hf = ShardedSafetensors.open(TINY)) {
            assertEquals(pf.tensorInfos().size(), gf.tensorInfos().size());
            assertEquals(java.nio.file.Files.size(p), java.nio.file.Files.size(g), "same mix, same size");
            for (int i = 0; i < gf.tensorInfos().size(); i++) {
                GgufTensorInfo a = gf.tensorInfos().get(i), b = pf.tensorInfos().get(i);
                assertEquals(b.name(), a.name());
                assertEquals(b.type(), a.type(), a.name());
                assertArrayEquals(b.dims(), a.dims(), a.name());
                String[] parts = a.name().split("\\.");
                boolean linear = parts[0].equals("blk") && LINEARS.containsKey(parts[2]);
                if (!linear) {
                    assertEquals(-1, gf.data(a).mismatch(pf.data(b)), a.name() + " is not a Linear: written as the plain path writes it");
                    continue;
                }
                // decode and compare with the checkpoint's weight in llama.cpp's row order
                int cols = (int) a.dims()[0], rows = (int) a.dims()[1];
                float[] w = hf.tensor("model.layers." + parts[1] + "." + LINEARS.get(parts[2]) + ".weight").toFloatArray();
                if (parts[2].equals("attn_q")) w = RotaryPermutation.permuteRows(w, rows, cols, 8);
                if (parts[2].equals("attn_k")) w = RotaryPermutation.permuteRows(w, rows, cols, 4);
                BlockCodec codec = BlockCodecs.forType(a.type());
                float[] y = new float[rows * cols];
                for (int r = 0; r < rows; r++) codec.dequantizeRow(gf.data(a), r * codec.rowBytes(cols), y, r * cols, cols);
                double num = 0, den = 0;
                for (int k = 0; k < y.length; k++) {
                    num += (y[k] - w[k]) * (y[k] - w[k]);
                    den += (double) w[k] * w[k];
                }
                // 3-6 bit grids: GPTQ's ŵ stays within ~25% RMS of w (rows in the wrong order would be ~140%)
                double rel = Math.sqrt(num / den);
                assertTrue(rel < 0.25, a.name() + " " + a.type() + ": relative RMS error " + rel);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * A {@code .gguf} input is read in place through its ModelSource: GPTQ from an F32 GGUF of the checkpoint (bf16 →
     * f32 is exact, and the tokenizer is rebuilt from the GGUF's metadata) writes the same tensors, byte for byte, as
     * GPTQ from the Hugging Face directory.
     */
    @Test
    void gptqFromAGgufEqualsGptqFromTheDirectory() throws java.io.IOException {
        Path f32 = tmp.resolve("tiny-f32.gguf");
        GgufRequests.run(GgufRequests.Request.convert(TINY, f32, LlamaFtype.ALL_F32, false, 2));
        Path fromDir = tmp.resolve("dir.gguf"), fromGguf = tmp.resolve("gguf.gguf");
        GgufRequests.run(request(fromDir, GPTQ, TINY));
        GgufQuantizeReport rep = GgufRequests.run(request(fromGguf, GPTQ, f32));
        assertEquals(42, rep.gptqTensors());
        // metadata differs by construction (a .gguf keeps its own keys, as llama-quantize does); every tensor is the same
        try (GgufFile a = GgufFile.open(fromDir); GgufFile b = GgufFile.open(fromGguf)) {
            assertEquals(a.tensorInfos().size(), b.tensorInfos().size());
            for (int i = 0; i < a.tensorInfos().size(); i++) {
                GgufTensorInfo x = a.tensorInfos().get(i), y = b.tensorInfos().get(i);
                assertEquals(x.name(), y.name());
                assertEquals(x.type(), y.type(), x.name());
                assertEquals(-1L, a.data(x).mismatch(b.data(y)), x.name());
            }
        }
    }
}
