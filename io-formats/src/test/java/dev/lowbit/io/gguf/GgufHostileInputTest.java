package dev.lowbit.io.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.ggml.GgmlRef;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile GGUF images: each must fail fast with a one-line {@link BadInputException} naming the cause, without
 * allocating anything proportional to a claimed size (counts of 2^60 would exhaust the heap if trusted).
 */
class GgufHostileInputTest {
    private static final Path NAME = Path.of("hostile.gguf");
    private static final int F32 = 0, Q4_0 = 2;

    private static void rejects(byte[] image, String fragment) {
        BadInputException e = assertTimeoutPreemptively(Duration.ofSeconds(2),
                () -> assertThrows(BadInputException.class, () -> GgufFile.parse(NAME, MemorySegment.ofArray(image)).close()));
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' should mention '" + fragment + "'");
        assertFalse(e.getMessage().contains("\n"), "one line");
        assertEquals(NAME.toString(), e.source());
    }

    private static void rejects(GgufBytes b, String fragment) {
        rejects(b.bytes(), fragment);
    }

    @Test
    void truncatedOrForeignHeaders() {
        rejects(new byte[0], "truncated");
        rejects(Arrays.copyOf("GGUF".getBytes(), 10), "truncated");
        rejects(new GgufBytes().raw("GGML".getBytes()).u32(3).u64(0).u64(0), "bad magic");
        rejects(new GgufBytes().raw("GGUF".getBytes()).u32(1).u64(0).u64(0), "version 1");
        rejects(new GgufBytes().raw("GGUF".getBytes()).u32(4).u64(0).u64(0), "version 4");
        rejects(new GgufBytes().raw("GGUF".getBytes()).u32(3L << 24).u64(0).u64(0), "big-endian");
    }

    @Test
    void absurdCounts() {
        rejects(GgufBytes.header(1L << 60, 0), "tensor_count 1152921504606846976 is impossible");
        rejects(GgufBytes.header(0, 1L << 60), "metadata_kv_count");
        rejects(GgufBytes.header(-1L, 0), "tensor_count 18446744073709551615");
        rejects(GgufBytes.header(0, 1).u64(1L << 40).raw("key".getBytes()).zeros(16), "string length 1099511627776");
        rejects(GgufBytes.header(0, 1).str("a").u32(GgufValueType.ARRAY.id()).u32(GgufValueType.UINT8.id()).u64(1L << 60),
                "element count of 'a'");
        rejects(GgufBytes.header(0, 1).str("a").u32(GgufValueType.ARRAY.id()).u32(GgufValueType.STRING.id()).u64(1L << 60),
                "element count of 'a'");
        rejects(GgufBytes.header(0, 1).str("a").u32(GgufValueType.ARRAY.id()).u32(GgufValueType.STRING.id()).u64(2)
                .u64(1L << 40).zeros(16), "string length");
        rejects(GgufBytes.header(0, 1).str("a").u32(GgufValueType.ARRAY.id()).u32(GgufValueType.INT32.id()).u64(3).u32(1),
                "element count of 'a'");
    }

    @Test
    void badMetadata() {
        rejects(GgufBytes.header(0, 1).str("a").u32(13).u32(0), "unknown value type 13");
        rejects(GgufBytes.header(0, 1).str("a").u32(GgufValueType.ARRAY.id()).u32(99).u64(0), "unknown element type 99");
        rejects(GgufBytes.header(0, 1).str("a").u32(GgufValueType.BOOL.id()).u8(2), "neither 0 nor 1");
        rejects(GgufBytes.header(0, 2).kvU32("a", 1).kvU32("a", 2), "duplicate metadata key 'a'");
        rejects(GgufBytes.header(0, 1).u64(2).raw(new byte[] {(byte) 0xC3, 0x28}).u32(4).u32(0), "not valid UTF-8");
        rejects(GgufBytes.header(0, 1).kvU32("general.alignment", 48), "not a power of two");
        rejects(GgufBytes.header(0, 1).kvU32("general.alignment", 0), "not a power of two");
        rejects(GgufBytes.header(0, 1).str("general.alignment").u32(GgufValueType.INT32.id()).u32(32), "must be UINT32");
        GgufBytes deep = GgufBytes.header(0, 1).str("a").u32(GgufValueType.ARRAY.id());
        for (int i = 0; i < 10; i++) deep.u32(GgufValueType.ARRAY.id()).u64(1);
        rejects(deep.zeros(64), "nested deeper");
        rejects(Arrays.copyOf(GgufBytes.header(0, 1).kvU32("a", 1).bytes(), 37), "truncated");
    }

    @Test
    void badTensorInfos() {
        rejects(GgufBytes.header(1, 0).tensor("t", F32, 0, 1, 1, 1, 1, 1).pad(32).zeros(32), "5 dimensions");
        rejects(GgufBytes.header(1, 0).tensor("t", 100, 0, 32).pad(32).zeros(32), "unknown ggml type id 100");
        rejects(GgufBytes.header(1, 0).tensor("t", 36, 0, 32).pad(32).zeros(32), "BitNet");
        rejects(GgufBytes.header(1, 0).tensor("t", 31, 0, 32).pad(32).zeros(32), "removed repacked");
        rejects(GgufBytes.header(1, 1).str("general.architecture").u32(GgufValueType.STRING.id()).str("bitnet-b1.58")
                .tensor("t", 39, 0, 32).pad(32).zeros(32), "TL2");
        rejects(GgufBytes.header(1, 0).tensor("t", Q4_0, 0, 33).pad(32).zeros(64), "not a multiple of the Q4_0 block size 32");
        rejects(GgufBytes.header(1, 0).tensor("t", F32, 0, Long.MIN_VALUE).pad(32), "negative");
        rejects(GgufBytes.header(1, 0).tensor("t", F32, 0, 1L << 32, 1L << 32).pad(32), "overflows");
        rejects(GgufBytes.header(1, 0).tensor("t", F32, 16, 4).pad(32).zeros(64), "not a multiple of the alignment");
        rejects(GgufBytes.header(1, 0).tensor("t", F32, 1L << 40, 4).pad(32).zeros(64), "beyond the data section");
        rejects(GgufBytes.header(1, 0).tensor("t", F32, -32, 4).pad(32).zeros(64), "beyond the data section");
        rejects(GgufBytes.header(1, 0).tensor("t", F32, 0, 100).pad(32).zeros(64), "runs past the end");
        rejects(GgufBytes.header(2, 0).tensor("a", F32, 0, 16).tensor("b", F32, 32, 16).pad(32).zeros(96), "overlaps");
        rejects(GgufBytes.header(2, 0).tensor("a", F32, 0, 4).tensor("a", F32, 32, 4).pad(32).zeros(64), "duplicate tensor");
        rejects(GgufBytes.header(1, 0).tensor("t", F32, 0, 4), "truncated");
    }

    @Test
    void version2IsReadAndBlockTypesNeedDequantize() {
        byte[] v2 = new GgufBytes().raw("GGUF".getBytes()).u32(2).u64(2).u64(0)
                .tensor("q", Q4_0, 0, 32).tensor("k", 12, 32, 256).pad(32).zeros(32 + 144).bytes();
        try (GgufFile f = GgufFile.parse(NAME, MemorySegment.ofArray(v2))) {
            assertEquals(2, f.version());
            assertEquals(32, f.dequantize("q").elementCount());
            BadInputException e = assertThrows(BadInputException.class, () -> f.tensor("q"));
            assertTrue(e.getMessage().contains("dequantize"), e.getMessage());
            assertThrows(BadInputException.class, () -> f.tensorInfo("missing"));
            if (!dev.lowbit.io.ggml.BlockCodecs.supports(dev.lowbit.io.ggml.GgmlType.Q4_K)) {
                assertThrows(BadInputException.class, () -> f.dequantize("k"));
            }
        }
    }

    /** Every prefix of a real file that ends before its data section is rejected as truncated. */
    @Test
    void everyTruncationOfARealHeaderIsRejected() {
        byte[] full = GgmlRef.readBytes(SharedData.root().resolve("data/gguf/stories260K/stories260K-Q4_0.gguf"));
        long dataStart;
        try (GgufFile f = GgufFile.parse(NAME, MemorySegment.ofArray(full))) {
            dataStart = f.dataStart();
        }
        for (int n = 0; n < dataStart; n += 53) { // a prime stride: cuts land inside every kind of field
            byte[] cut = Arrays.copyOf(full, n);
            assertThrows(BadInputException.class, () -> GgufFile.parse(NAME, MemorySegment.ofArray(cut)), "prefix " + n);
        }
    }

    @Test
    void openNamesTheFile(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("short.gguf");
        Files.write(p, new byte[] {'G', 'G', 'U', 'F', 3});
        BadInputException e = assertThrows(BadInputException.class, () -> GgufFile.open(p));
        assertTrue(e.userMessage().startsWith(p + ": truncated"), e.userMessage());
        assertThrows(BadInputException.class, () -> GgufFile.open(dir.resolve("missing.gguf")));
    }
}
