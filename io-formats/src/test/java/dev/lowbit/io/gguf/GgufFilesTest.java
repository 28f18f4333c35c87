package dev.lowbit.io.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlRef;
import dev.lowbit.io.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The GGUF reader and writer on every real GGUF file in the shared fixtures (llama.cpp vocab files and stories260K). */
class GgufFilesTest {
    @TempDir
    Path tmp;

    static Stream<Path> files() throws IOException {
        Path dir = SharedData.root().resolve("data/gguf");
        List<Path> all = new ArrayList<>();
        for (Path d : List.of(dir, dir.resolve("stories260K"))) {
            try (Stream<Path> s = Files.list(d)) {
                s.filter(p -> p.toString().endsWith(".gguf")).sorted().forEach(all::add);
            }
        }
        assertTrue(all.size() >= 14, "expected the shared GGUF fixtures, found " + all);
        return all.stream();
    }

    @ParameterizedTest
    @MethodSource("files")
    void readsEveryKeyAndTensor(Path p) {
        ByteBuffer head = ByteBuffer.wrap(GgmlRef.readBytes(p), 0, 24).order(ByteOrder.LITTLE_ENDIAN);
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(head.getLong(8), f.tensorInfos().size(), "tensor_count");
            assertEquals(head.getLong(16), f.kv().size(), "metadata_kv_count");
            assertEquals(3, f.version());
            GgufValue tokens = f.get("tokenizer.ggml.tokens");
            if (tokens != null) {
                int n = tokens.asArray().size();
                String arch = f.get("general.architecture").asString();
                GgufValue vocab = f.get(arch + ".vocab_size");
                if (vocab != null) assertEquals(vocab.asLong(), n, "vocab_size");
                for (String k : List.of("tokenizer.ggml.scores", "tokenizer.ggml.token_type")) {
                    if (f.get(k) != null) assertEquals(n, f.get(k).asArray().size(), k);
                }
                if (f.contains("token_embd.weight")) assertEquals(n, f.tensorInfo("token_embd.weight").dims()[1]);
            }
            for (GgufTensorInfo t : f.tensorInfos()) {
                MemorySegment d = f.data(t);
                assertEquals(t.byteSize(), d.byteSize());
                if (BlockCodecs.supports(t.type())) {
                    float[] v = f.dequantize(t.name()).toFloatArray();
                    for (float x : v) assertTrue(Float.isFinite(x), t.name());
                }
            }
            assertTrue(f.hasLlamaCppLayout(), "llama.cpp tensor layout");
        }
    }

    @ParameterizedTest
    @MethodSource("files")
    void roundTripKeepsEveryTypeValueAndByte(Path p) throws IOException {
        Path out = tmp.resolve(p.getFileName());
        try (GgufFile f = GgufFile.open(p)) {
            GgufWriter.copyOf(f).write(out);
            try (GgufFile g = GgufFile.open(out)) {
                assertEquals(List.copyOf(f.kv().keySet()), List.copyOf(g.kv().keySet()), "key order");
                for (Map.Entry<String, GgufValue> e : f.kv().entrySet()) {
                    assertEquals(e.getValue(), g.get(e.getKey()), e.getKey());
                }
                assertEquals(f.tensorInfos(), g.tensorInfos());
                for (GgufTensorInfo t : f.tensorInfos()) {
                    assertEquals(-1L, f.data(t).mismatch(g.data(t.name())), t.name());
                }
            }
        }
        // llama.cpp's writer and ours follow the same layout rules, so the files are identical byte for byte.
        assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(out), "byte-identical output");
    }

    @Test
    void writerRefusesToOverwriteUnlessAsked() throws IOException {
        Path out = tmp.resolve("x.gguf");
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama");
        w.write(out);
        long size = Files.size(out);
        assertTrue(Files.getPosixFilePermissions(out).contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ),
                "not left private like a temp file");
        GgufWriter w2 = new GgufWriter().putString("general.architecture", "llama").putUint32("a", 1);
        assertThrows(FileAlreadyExistsException.class, () -> w2.write(out));
        assertEquals(size, Files.size(out));
        w2.write(out, true);
        assertTrue(Files.size(out) > size);
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(1, s.count(), "no temporary files left behind");
        }
    }

    @Test
    void writerPadsEveryTensorAndStreamsCallbacks() throws IOException {
        Path out = tmp.resolve("t.gguf");
        MemorySegment a = MemorySegment.ofArray(new float[] {1, 2, 3});
        new GgufWriter()
                .put(GgufFile.ALIGNMENT_KEY, GgufValue.ofUint32(64))
                .put("k.i8", GgufValue.ofInt8(-3))
                .put("k.u64", GgufValue.ofUint64(-1L))
                .put("k.f64", GgufValue.ofFloat64(Math.PI))
                .put("k.bools", GgufValue.ofArray(GgufArray.of(GgufValueType.BOOL, new boolean[] {true, false})))
                .put("k.u16s", GgufValue.ofArray(GgufArray.of(GgufValueType.UINT16, new short[] {1, -1})))
                .addTensor("a", new long[] {3}, dev.lowbit.io.ggml.GgmlType.F32, a)
                .addTensor("b", new long[] {2, 2}, dev.lowbit.io.ggml.GgmlType.I8,
                        ch -> ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3, 4})))
                .write(out);
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals(64, f.alignment());
            assertEquals(0, f.dataStart() % 64);
            assertEquals(0, f.tensorInfo("a").offset());
            assertEquals(64, f.tensorInfo("b").offset());
            assertEquals(f.dataStart() + 128, Files.size(out), "padding after the last tensor");
            assertEquals(GgufValue.ofUint64(-1L), f.get("k.u64"));
            assertEquals(GgufValueType.INT8, f.get("k.i8").type());
            assertEquals(-3, f.get("k.i8").asLong());
            Tensor b = f.tensor("b");
            assertArrayEquals(new long[] {2, 2}, b.shape().dims());
            assertEquals(4, b.getLong(3));
            assertEquals(3f, f.tensor("a").getFloat(2));
            assertFalse(f.metadata().containsKey("k.i8"));
        }
        GgufWriter bad = new GgufWriter().addTensor("c", new long[] {4}, dev.lowbit.io.ggml.GgmlType.I8,
                ch -> ch.write(ByteBuffer.wrap(new byte[] {1})));
        assertThrows(IllegalStateException.class, () -> bad.write(tmp.resolve("bad.gguf")));
        assertFalse(Files.exists(tmp.resolve("bad.gguf")), "an incomplete file is never published");
    }
}
