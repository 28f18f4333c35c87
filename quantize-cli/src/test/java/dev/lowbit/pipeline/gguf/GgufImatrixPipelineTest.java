package dev.lowbit.pipeline.gguf;

import static org.junit.jupiter.api.Assertions.*;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufWriter;
import dev.lowbit.io.imatrix.Imatrix;
import dev.lowbit.ptq.search.GgmlSearches;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The importance matrix reaches the quantizer as llama-quantize passes it: for each tensor the mean x² of its own
 * entry (in_sum2 / counts, by GGUF name), nothing for tensors without an entry. Checked on a small synthetic model
 * whose rows are 256 wide so the k-quants apply, against direct codec calls.
 */
class GgufImatrixPipelineTest {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final int HIDDEN = 256, FFN = 512, VOCAB = 64;

    @TempDir
    Path tmp;

    Path model() throws IOException {
        SplittableRandom rnd = new SplittableRandom(7);
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.putUint32("llama.block_count", 1);
        w.putUint32("llama.attention.head_count", 4);
        w.putUint32("llama.attention.head_count_kv", 4);
        w.putUint32("llama.embedding_length", HIDDEN);
        w.putUint32("llama.feed_forward_length", FFN);
        w.putUint32("general.file_type", 0);
        Map<String, long[]> t = new LinkedHashMap<>();
        t.put("token_embd.weight", new long[] {HIDDEN, VOCAB});
        t.put("output_norm.weight", new long[] {HIDDEN});
        t.put("output.weight", new long[] {HIDDEN, VOCAB});
        t.put("blk.0.attn_norm.weight", new long[] {HIDDEN});
        for (String n : List.of("attn_q", "attn_k", "attn_v", "attn_output")) t.put("blk.0." + n + ".weight", new long[] {HIDDEN, HIDDEN});
        t.put("blk.0.ffn_norm.weight", new long[] {HIDDEN});
        t.put("blk.0.ffn_gate.weight", new long[] {HIDDEN, FFN});
        t.put("blk.0.ffn_up.weight", new long[] {HIDDEN, FFN});
        t.put("blk.0.ffn_down.weight", new long[] {FFN, HIDDEN});
        t.forEach((name, dims) -> {
            long n = 1;
            for (long d : dims) n *= d;
            MemorySegment s = MemorySegment.ofArray(new byte[(int) (4 * n)]);
            for (long i = 0; i < n; i++) s.setAtIndex(F32, i, (float) (rnd.nextGaussian() * 0.05));
            w.addTensor(name, dims, GgmlType.F32, s);
        });
        Path p = tmp.resolve("model-f32.gguf");
        w.write(p);
        return p;
    }

    static Imatrix imatrix() {
        SplittableRandom rnd = new SplittableRandom(11);
        Map<String, Imatrix.Entry> e = new LinkedHashMap<>();
        for (String n : List.of("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")) {
            int cols = n.equals("ffn_down") ? FFN : HIDDEN;
            float[] sums = new float[cols];
            for (int i = 0; i < cols; i++) sums[i] = (float) (rnd.nextDouble() * rnd.nextDouble() * 100);
            e.put("blk.0." + n + ".weight", new Imatrix.Entry(sums, new float[] {37}));
        }
        return new Imatrix(e, List.of("synthetic.txt"), 3, 512);
    }

    static GgufRequests.Request q4km(Path model, Path out, Path im) {
        return new GgufRequests.Request(model, out, LlamaFtype.Q4_K_M, im, null, 0, 0, List.of(), false, false, false, 2);
    }

    @Test
    void eachTensorIsQuantizedWithItsOwnMeanSquare() throws IOException {
        Path model = model();
        Path im = tmp.resolve("imatrix.gguf");
        Imatrix m = imatrix();
        m.write(im, false);
        Path with = tmp.resolve("with.gguf"), without = tmp.resolve("without.gguf");
        GgufQuantizeReport r = GgufRequests.run(q4km(model, with, im));
        GgufRequests.run(q4km(model, without, null));
        assertEquals(7, r.imatrixUsed());
        try (GgufFile src = GgufFile.open(model); GgufFile a = GgufFile.open(with); GgufFile b = GgufFile.open(without)) {
            assertEquals(im.toString(), a.get("quantize.imatrix.file").asString());
            assertEquals("synthetic.txt", a.get("quantize.imatrix.dataset").asString());
            assertEquals(7, a.get("quantize.imatrix.entries_count").asInt());
            assertEquals(3, a.get("quantize.imatrix.chunks_count").asInt());
            for (var t : a.tensorInfos()) {
                if (!t.type().isQuantized()) continue;
                float[] importance = m.importance(t.name());
                BlockCodec c = BlockCodecs.forType(t.type());
                int row = (int) t.dims()[0];
                float[] x = src.tensor(t.name()).toFloatArray();
                MemorySegment want = MemorySegment.ofArray(new byte[(int) t.byteSize()]);
                for (int i = 0; i < x.length / row; i++) GgmlSearches.forType(t.type()).quantizeRow(x, i * row, row, importance, want, i * c.rowBytes(row));
                assertEquals(-1L, a.data(t).mismatch(want), t.name() + " " + t.type());
                boolean weighted = importance != null;
                assertEquals(!weighted, a.data(t).mismatch(b.data(t.name())) == -1L,
                        t.name() + ": differs from the unweighted file exactly when it has an entry");
            }
        }
    }

    @Test
    void anEntryOfTheWrongWidthIsRefused() throws IOException {
        Path model = model();
        Map<String, Imatrix.Entry> e = new LinkedHashMap<>(imatrix().entries());
        e.put("blk.0.ffn_down.weight", new Imatrix.Entry(new float[HIDDEN], new float[] {1}));
        Path im = tmp.resolve("bad.gguf");
        new Imatrix(e, List.of(), 0, 0).write(im, false);
        BadInputException ex = assertThrows(BadInputException.class, () -> GgufRequests.run(q4km(model, tmp.resolve("o.gguf"), im)));
        assertTrue(ex.getMessage().contains("'blk.0.ffn_down.weight' has 256 values, the tensor needs 512"), ex.getMessage());
    }
}
