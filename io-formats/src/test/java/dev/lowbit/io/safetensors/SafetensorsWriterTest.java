package dev.lowbit.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.safetensors.SafetensorsWriter.Options;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorData;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorSpec;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {
    private static List<Path> shards() throws IOException {
        try (Stream<Path> s = Files.list(SharedData.tinyLlama())) {
            List<Path> l = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
            assertEquals(5, l.size());
            return l;
        }
    }

    @Test
    void readWriteReadIsByteIdenticalForEveryShard(@TempDir Path dir) throws IOException {
        for (Path shard : shards()) {
            Path out = dir.resolve(shard.getFileName());
            try (SafetensorsFile f = SafetensorsFile.open(shard)) {
                SafetensorsWriter.write(out, SafetensorsWriter.specsInDataOrder(f), SafetensorsWriter.layoutOf(f));
            }
            assertEquals(-1L, Files.mismatch(shard, out), shard.getFileName() + " differs");
            try (SafetensorsFile back = SafetensorsFile.open(out); SafetensorsFile orig = SafetensorsFile.open(shard)) {
                assertEquals(orig.names(), back.names());
                assertEquals(orig.metadata(), back.metadata());
            }
        }
    }

    @Test
    void referenceOrderReproducesTheReferenceWriterFromAnyInputOrder(@TempDir Path dir) throws IOException {
        for (Path shard : shards()) {
            Path out = dir.resolve(shard.getFileName());
            try (SafetensorsFile f = SafetensorsFile.open(shard)) {
                List<TensorSpec> specs = new ArrayList<>(SafetensorsWriter.specsOf(f));
                Collections.shuffle(specs, new Random(42));
                SafetensorsWriter.write(out, specs, Options.defaults().forTransformers());
            }
            assertEquals(-1L, Files.mismatch(shard, out), shard.getFileName() + " differs");
        }
    }

    @Test
    void referenceOrderIsDescendingAlignmentThenName(@TempDir Path dir) throws IOException {
        List<TensorSpec> specs = List.of(
                spec("b.mask", DType.BOOL, 3), spec("z", DType.U8, 2), spec("a.bf", DType.BF16, 2), spec("c.f32", DType.F32, 1),
                spec("a.f32", DType.F32, 2), spec("i64", DType.I64, 1), spec("f16", DType.F16, 1), spec("e4m3", DType.F8_E4M3, 4));
        Path out = dir.resolve("mixed.safetensors");
        SafetensorsWriter.write(out, specs, Options.defaults());
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertEquals(List.of("i64", "a.f32", "c.f32", "a.bf", "f16", "e4m3", "z", "b.mask"), f.names());
            long expect = 0;
            for (SafetensorsFile.Entry e : f.entries().values()) {
                assertEquals(expect, e.begin(), e.name());
                expect = e.end();
            }
            for (TensorSpec s : specs) {
                assertArrayEquals(bytesOf(s), f.tensor(s.name()).data().toArray(ValueLayout.JAVA_BYTE), s.name());
            }
            assertEquals(Map.of(), f.metadata());
            assertEquals(0, (f.dataStart() - 8) % 8);
        }
    }

    @Test
    void metadataIsKeptEscapedAndPtAddedForTransformers(@TempDir Path dir) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("quote\"back\\slash", "line\nbreak\ttab\u0001ctl é 漢 \uD83D\uDE00");
        meta.put("recipe", "{\"bits\": 4}");
        Path out = dir.resolve("m.safetensors");
        SafetensorsWriter.write(out, List.of(spec("x", DType.F32, 4)), Options.defaults().withMetadata(meta).forTransformers());
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            Map<String, String> expect = new LinkedHashMap<>(meta);
            expect.put("format", "pt");
            assertEquals(expect, f.metadata());
            assertEquals(List.copyOf(expect.keySet()), List.copyOf(f.metadata().keySet()));
        }
        String header = new String(Files.readAllBytes(out), 8, 64, java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":{\"quote\\\"back\\\\slash\":\"line\\nbreak\\ttab\\u0001ctl"), header);
    }

    @Test
    void streamsFromCallbacksAndNonByteHeapSegments(@TempDir Path dir) throws IOException {
        float[] values = {1f, -2f, 3.5f};
        TensorSpec fromFloats = new TensorSpec("f", DType.F32, Shape.of(3), TensorData.of(MemorySegment.ofArray(values)));
        TensorSpec fromCallback = new TensorSpec("c", DType.U8, Shape.of(2, 3), out -> {
            out.write(ByteBuffer.wrap(new byte[] {1, 2}));
            out.write(ByteBuffer.wrap(new byte[] {3, 4, 5, 6}));
        });
        TensorSpec fromStream = new TensorSpec("s", DType.I16, Shape.of(70_000), TensorData.ofStream(os -> {
            for (int i = 0; i < 70_000; i++) {
                os.write(i & 0xFF);
                os.write((i >> 8) & 0xFF);
            }
        }));
        Path out = dir.resolve("s.safetensors");
        SafetensorsWriter.write(out, List.of(fromFloats, fromCallback, fromStream), Options.defaults().withOrder(SafetensorsWriter.Order.AS_GIVEN));
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertEquals(List.of("f", "c", "s"), f.names());
            assertEquals((short) 69_999, (short) f.tensor("s").getLong(69_999));
            assertArrayEquals(values, f.tensor("f").toFloatArray());
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6}, f.tensor("c").data().toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void failingCallbackLeavesNoFileAndNoTempFile(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("fail.safetensors");
        TensorSpec ok = spec("a", DType.F32, 1024);
        TensorSpec bad = new TensorSpec("b", DType.F32, Shape.of(4), o -> {
            o.write(ByteBuffer.allocate(8));
            throw new IllegalStateException("quantizer blew up");
        });
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> SafetensorsWriter.write(out, List.of(ok, bad), Options.defaults()));
        assertEquals("quantizer blew up", e.getMessage());
        assertEquals(List.of(), list(dir));
    }

    @Test
    void shortOrLongTensorDataIsAnErrorAndLeavesNothing(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("short.safetensors");
        TensorSpec shortData = new TensorSpec("s", DType.F32, Shape.of(4), o -> o.write(ByteBuffer.allocate(12)));
        IOException e = assertThrows(IOException.class, () -> SafetensorsWriter.write(out, List.of(shortData), Options.defaults()));
        assertTrue(e.getMessage().contains("gave 12 of its 16 bytes"), e.getMessage());
        TensorSpec longData = new TensorSpec("l", DType.F32, Shape.of(4), o -> o.write(ByteBuffer.allocate(20)));
        e = assertThrows(IOException.class, () -> SafetensorsWriter.write(out, List.of(longData), Options.defaults()));
        assertTrue(e.getMessage().contains("longer than its 16 bytes"), e.getMessage());
        assertEquals(List.of(), list(dir));
    }

    @Test
    void refusesToOverwriteUnlessAsked(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("exists.safetensors");
        Files.writeString(out, "precious");
        assertThrows(FileAlreadyExistsException.class,
                () -> SafetensorsWriter.write(out, List.of(spec("a", DType.U8, 1)), Options.defaults()));
        assertEquals("precious", Files.readString(out));
        assertEquals(List.of("exists.safetensors"), list(dir));

        SafetensorsWriter.write(out, List.of(spec("a", DType.U8, 1)), Options.defaults().allowOverwrite());
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertEquals(List.of("a"), f.names());
        }
        assertEquals(List.of("exists.safetensors"), list(dir));
    }

    @Test
    void rejectsDuplicateAndReservedNamesBeforeWriting(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("x.safetensors");
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.write(out, List.of(spec("a", DType.U8, 1), spec("a", DType.U8, 1)), Options.defaults()));
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.write(out, List.of(spec("__metadata__", DType.U8, 1)), Options.defaults()));
        assertEquals(List.of(), list(dir));
    }

    static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** A tensor of {@code n} elements with deterministic, name-dependent bytes. */
    static TensorSpec spec(String name, DType dtype, long n) {
        byte[] b = new byte[Math.toIntExact(dtype.byteSizeOf(n))];
        new Random(name.hashCode()).nextBytes(b);
        return new TensorSpec(name, dtype, Shape.of(n), TensorData.of(MemorySegment.ofArray(b)));
    }

    static byte[] bytesOf(TensorSpec s) throws IOException {
        var bos = new java.io.ByteArrayOutputStream();
        s.data().writeTo(java.nio.channels.Channels.newChannel(bos));
        return bos.toByteArray();
    }
}
