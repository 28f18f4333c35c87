package dev.lowbit.io.imatrix;

import static org.junit.jupiter.api.Assertions.*;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.gguf.GgufFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** llama.cpp importance matrices: the real file in ../shared, round trips, the legacy format, hostile input. */
class ImatrixTest {
    static final Path SHARED = SharedData.root();
    static final Path WIKI = SHARED.resolve("data/gguf/stories260K/imatrix-wikivalid.gguf");

    @TempDir
    Path tmp;

    @Test
    void readsLlamaCppGgufImatrix() {
        Imatrix m = Imatrix.read(WIKI);
        assertEquals(List.of("wikitext-2 valid.txt"), m.datasets());
        assertTrue(m.chunkCount() > 0);
        assertEquals(512, m.chunkSize());
        // every Linear of stories260K's 5 layers: attn_q/k/v/output, ffn_gate/up/down, keyed by the GGUF weight name
        assertEquals(35, m.entries().size());
        assertTrue(m.entries().containsKey("blk.0.attn_q.weight"));
        assertEquals(64, m.entries().get("blk.0.attn_q.weight").nPerRow());
        assertEquals(172, m.entries().get("blk.4.ffn_down.weight").nPerRow());
        // q, k and v read the same normalised input: identical statistics
        assertArrayEquals(m.entries().get("blk.2.attn_q.weight").inSum2(), m.entries().get("blk.2.attn_v.weight").inSum2());
        for (Imatrix.Entry e : m.entries().values()) {
            for (float c : e.counts()) assertTrue(c > 0);
            for (float v : e.mean()) assertTrue(v >= 0 && Float.isFinite(v));
        }
        assertNull(m.importance("token_embd.weight"));
    }

    @Test
    void meanIsSumOverCountInF32() {
        Imatrix.Entry e = new Imatrix.Entry(new float[] {3f, 6f, 1f, 0f}, new float[] {3f, 0f});
        assertArrayEquals(new float[] {1f, 2f, 1f, 1f}, e.mean(), "second matrix has no count: weight 1");
    }

    @Test
    void ggufRoundTripIsExact() throws IOException {
        Imatrix m = Imatrix.read(WIKI);
        Path out = tmp.resolve("copy.gguf");
        m.write(out, false);
        Imatrix back = Imatrix.read(out);
        assertEquals(m.datasets(), back.datasets());
        assertEquals(m.chunkCount(), back.chunkCount());
        assertEquals(m.chunkSize(), back.chunkSize());
        assertEquals(m.entries().keySet(), back.entries().keySet());
        for (String k : m.entries().keySet()) {
            assertArrayEquals(m.entries().get(k).inSum2(), back.entries().get(k).inSum2(), k);
            assertArrayEquals(m.entries().get(k).counts(), back.entries().get(k).counts(), k);
        }
        // same tensors, in the same order, as llama.cpp's writer
        try (GgufFile a = GgufFile.open(WIKI); GgufFile b = GgufFile.open(out)) {
            assertEquals(a.tensorInfos().stream().map(t -> t.name() + java.util.Arrays.toString(t.dims())).toList(),
                    b.tensorInfos().stream().map(t -> t.name() + java.util.Arrays.toString(t.dims())).toList());
        }
    }

    @Test
    void multiMatrixEntriesKeepTheirShape() throws IOException {
        Map<String, Imatrix.Entry> e = new LinkedHashMap<>();
        e.put("blk.0.ffn_up_exps.weight", new Imatrix.Entry(new float[] {1, 2, 3, 4, 5, 6}, new float[] {1, 2}));
        Path out = tmp.resolve("exps.gguf");
        new Imatrix(e, List.of("x.txt"), 3, 512).write(out, false);
        Imatrix back = Imatrix.read(out);
        assertEquals(3, back.entries().get("blk.0.ffn_up_exps.weight").nPerRow());
        assertArrayEquals(new float[] {1, 2, 3, 2, 2.5f, 3}, back.importance("blk.0.ffn_up_exps.weight"));
    }

    /** The legacy .dat layout: values stored as mean·ncall, so the mean is values / ncall. */
    @Test
    void readsLegacyDat() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(2);
        entry(b, "blk.0.attn_q.weight", 4, new float[] {4, 8, 12, 16});
        entry(b, "blk.0.ffn_down.weight", 2, new float[] {1, 3});
        b.putInt(10);
        byte[] ds = "calib.txt".getBytes(StandardCharsets.UTF_8);
        b.putInt(ds.length).put(ds);
        Path p = tmp.resolve("imatrix.dat");
        Files.write(p, java.util.Arrays.copyOf(b.array(), b.position()));
        Imatrix m = Imatrix.read(p);
        assertArrayEquals(new float[] {1, 2, 3, 4}, m.importance("blk.0.attn_q.weight"));
        assertArrayEquals(new float[] {0.5f, 1.5f}, m.importance("blk.0.ffn_down.weight"));
        assertEquals(10, m.chunkCount());
        assertEquals(List.of("calib.txt"), m.datasets());
        // a .dat converts to the GGUF format losslessly
        Path g = tmp.resolve("imatrix.gguf");
        m.write(g, false);
        assertArrayEquals(new float[] {1, 2, 3, 4}, Imatrix.read(g).importance("blk.0.attn_q.weight"));
    }

    @Test
    void hostileDatIsOneLineError() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(1).putInt(5).put("blk.0".getBytes(StandardCharsets.UTF_8)).putInt(1).putInt(1_000_000);
        Path p = tmp.resolve("bad.dat");
        Files.write(p, java.util.Arrays.copyOf(b.array(), b.position()));
        BadInputException e = assertThrows(BadInputException.class, () -> Imatrix.read(p));
        assertTrue(e.getMessage().contains("bad value count 1000000"), e.getMessage());
        Path model = SHARED.resolve("data/gguf/stories260K/stories260K-f32.gguf");
        BadInputException notImatrix = assertThrows(BadInputException.class, () -> Imatrix.read(model));
        assertTrue(notImatrix.getMessage().contains("not an importance matrix"), notImatrix.getMessage());
    }

    private static void entry(ByteBuffer b, String name, int ncall, float[] v) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        b.putInt(n.length).put(n).putInt(ncall).putInt(v.length);
        for (float f : v) b.putFloat(f);
    }
}
