package dev.lowbit.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One test per hostile input from FORMATS.md. Each must fail with a {@link BadInputException} whose single-line
 * message names the file and the cause, quickly and without allocating anything proportional to a claimed size.
 */
class SafetensorsHostileInputTest {
    private static final Path NAME = Path.of("hostile.safetensors");
    private static final long TWO_60 = 1L << 60;

    @BeforeAll
    static void warmUp() {
        // load Jackson and our classes once, so the timing and allocation checks below measure the parse only
        SafetensorsFile.parse(NAME, MemorySegment.ofArray(image("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1)));
    }

    /** {@code u64 N} + header + {@code dataBytes} zero bytes. */
    static byte[] image(byte[] header, long claimedN, int dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(claimedN).put(header);
        return b.array();
    }

    static byte[] image(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return image(h, h.length, dataBytes);
    }

    /** Parses and returns the failure, checking it is one line naming the file, within time and allocation bounds. */
    static BadInputException reject(byte[] file) {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        BadInputException e = assertThrows(BadInputException.class,
                () -> SafetensorsFile.parse(NAME, MemorySegment.ofArray(file)));
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        // the inputs here are < 1 MB; 16 MB of garbage would mean something was sized from a claimed length
        assertTrue(allocated < 16L << 20, "allocated " + allocated + " bytes for a " + file.length + "-byte input");
        assertEquals(NAME.toString(), e.source());
        assertFalse(e.userMessage().contains("\n"), e.userMessage());
        assertTrue(e.userMessage().startsWith("hostile.safetensors: "), e.userMessage());
        return e;
    }

    static void assertCause(byte[] file, String... fragments) {
        // generous: a hostile header must be rejected in milliseconds; 5 s only guards against a stall on a busy CI box
        BadInputException e = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> reject(file));
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + e.getMessage() + "' should mention '" + f + "'");
    }

    static String t(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    @Test
    void truncatedBeforeHeaderLength() {
        assertCause(new byte[] {1, 2, 3}, "truncated");
    }

    @Test
    void headerLengthLargerThanFile() {
        byte[] h = "{}".getBytes(StandardCharsets.UTF_8);
        assertCause(image(h, 1000, 0), "header length 1000", "past the end");
    }

    @Test
    void headerLengthOf2To60IsRejectedWithoutReadingIt() {
        assertCause(image(new byte[] {'{', '}'}, TWO_60, 0), "header length " + TWO_60, "limit");
    }

    @Test
    void headerLengthWithTopBitSet() {
        assertCause(image(new byte[] {'{', '}'}, -1L, 0), "header length 18446744073709551615");
    }

    @Test
    void headerJustOverTheReferenceLimit() {
        assertCause(image(new byte[] {'{', '}'}, SafetensorsFile.MAX_HEADER + 1, 0), "limit of 100000000");
    }

    @Test
    void outOfRangeOffsetsClaiming2To60Bytes() {
        assertCause(image("{" + t("w", "BF16", "[" + (TWO_60 / 2) + "]", 0, TWO_60) + "}", 16),
                "'w'", "data_offsets [0," + TWO_60 + "]", "exceed the data section of 16 bytes");
    }

    @Test
    void offsetsBeyondLong() {
        assertCause(image("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,36893488147419103232]}}", 1),
                "'w'", "invalid data_offsets");
    }

    @Test
    void reversedOffsets() {
        assertCause(image("{" + t("w", "U8", "[0]", 8, 0) + "}", 8), "'w'", "reversed");
    }

    @Test
    void overlappingOffsets() {
        assertCause(image("{" + t("a", "F32", "[2]", 0, 8) + "," + t("b", "F32", "[2]", 4, 12) + "}", 12),
                "'b'", "overlap");
    }

    @Test
    void holeBetweenTensors() {
        assertCause(image("{" + t("a", "F32", "[2]", 0, 8) + "," + t("b", "F32", "[2]", 12, 20) + "}", 20),
                "hole", "'b'", "8..12");
    }

    @Test
    void holeAtTheStart() {
        assertCause(image("{" + t("a", "F32", "[2]", 4, 12) + "}", 12), "hole", "'a'");
    }

    @Test
    void trailingBytesAfterTheLastTensor() {
        assertCause(image("{" + t("a", "F32", "[2]", 0, 8) + "}", 12), "trailing", "12 bytes", "cover 8");
    }

    @Test
    void shapeDoesNotMatchByteSize() {
        assertCause(image("{" + t("a", "F32", "[3]", 0, 8) + "}", 8), "'a'", "needs 12 bytes", "give 8");
    }

    @Test
    void shapeWhoseElementCountOverflows() {
        long big = 1L << 40;
        assertCause(image("{" + t("a", "BF16", "[" + big + "," + big + "]", 0, 8) + "}", 8), "'a'", "overflows");
    }

    @Test
    void shapeWithFloatOrNegativeDimension() {
        assertCause(image("{" + t("a", "U8", "[2.0]", 0, 2) + "}", 2), "'a'", "invalid dimension 2.0");
        assertCause(image("{" + t("a", "U8", "[-2]", 0, 2) + "}", 2), "'a'", "invalid dimension -2");
    }

    @Test
    void headerIsNotUtf8() {
        byte[] h = ("{" + t("a\u00e9", "U8", "[1]", 0, 1) + "}").getBytes(StandardCharsets.UTF_8);
        byte[] bad = Arrays.copyOf(h, h.length);
        for (int i = 0; i < bad.length; i++) if (bad[i] == (byte) 0xC3) bad[i] = (byte) 0xFF;
        assertCause(image(bad, bad.length, 1), "not valid UTF-8");
    }

    @Test
    void deeplyNestedJson() {
        int depth = 100_000;
        String h = "{\"__metadata__\":" + "[".repeat(depth) + "]".repeat(depth) + "}";
        assertCause(image(h, 0), "not valid JSON", "nesting depth");
    }

    @Test
    void duplicateTensorNames() {
        assertCause(image("{" + t("a", "U8", "[1]", 0, 1) + "," + t("a", "U8", "[1]", 1, 2) + "}", 2), "duplicate name 'a'");
    }

    @Test
    void duplicateMetadata() {
        assertCause(image("{\"__metadata__\":{},\"__metadata__\":{}}", 0), "duplicate name '__metadata__'");
    }

    @Test
    void unknownDtypeIsNamed() {
        assertCause(image("{" + t("a", "F7", "[1]", 0, 1) + "}", 1), "'a'", "unknown dtype 'F7'");
    }

    @Test
    void knownButUnsupportedDtypeIsNamed() {
        assertCause(image("{" + t("scales", "F8_E8M0", "[1]", 0, 1) + "}", 1), "'scales'", "F8_E8M0", "not supported");
    }

    @Test
    void hugeDtypeStringIsNamedButBounded() {
        String dtype = "X".repeat(500_000);
        BadInputException e = reject(image("{" + t("a", dtype, "[1]", 0, 1) + "}", 1));
        assertTrue(e.getMessage().contains("unknown dtype 'XXXX"), e.getMessage());
        assertTrue(e.getMessage().length() < 400, "message length " + e.getMessage().length());
    }

    @Test
    void trailingGarbageAfterTheJsonObject() {
        assertCause(image("{" + t("a", "U8", "[1]", 0, 1) + "}xyz", 1), "not valid JSON");
    }

    @Test
    void headerMustStartWithBrace() {
        assertCause(image(" {}", 0), "does not start with '{'");
        assertCause(image("[]", 0), "does not start with '{'");
    }

    @Test
    void headerMustBeAnObjectOfObjects() {
        assertCause(image("{\"a\":3}", 0), "'a'", "not an object");
        assertCause(image("{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1), "'a'", "data_offsets");
    }

    @Test
    void metadataValuesMustBeStrings() {
        assertCause(image("{\"__metadata__\":{\"k\":1}}", 0), "__metadata__", "'k'", "not a string");
    }

    @Test
    void nullMetadataMeansNoneAsInTheReference() {
        try (SafetensorsFile f = SafetensorsFile.parse(NAME, MemorySegment.ofArray(image("{\"__metadata__\":null}", 0)))) {
            assertEquals(java.util.Map.of(), f.metadata());
        }
    }

    @Test
    void namesWithControlCharactersStayOnOneLine() {
        assertCause(image("{" + t("a\\nb", "F32", "[3]", 0, 8) + "}", 8), "'a\\u000ab'");
    }

    @Test
    void spacePaddedHeaderIsAccepted() {
        String json = "{" + t("a", "U8", "[3]", 0, 3) + "}";
        String padded = json + " ".repeat((8 - json.length() % 8) % 8 + 8);
        try (SafetensorsFile f = SafetensorsFile.parse(NAME, MemorySegment.ofArray(image(padded, 3)))) {
            assertEquals(java.util.List.of("a"), f.names());
            assertEquals(8 + padded.length(), f.dataStart());
        }
    }

    @Test
    void emptyTensorsSharingAnOffsetTile() {
        String h = "{" + t("e", "F32", "[0,4]", 0, 0) + "," + t("a", "F32", "[1]", 0, 4) + "," + t("z", "I8", "[0]", 4, 4) + "}";
        try (SafetensorsFile f = SafetensorsFile.parse(NAME, MemorySegment.ofArray(image(h, 4)))) {
            assertEquals(java.util.List.of("e", "a", "z"), f.names());
            assertEquals(0, f.tensor("e").byteSize());
        }
    }

    @Test
    void fileOnDiskWithHugeClaimsFailsFast(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("big-claims.safetensors");
        Files.write(p, image("{" + t("w", "F64", "[" + (TWO_60 / 8) + "]", 0, TWO_60) + "}", 0));
        BadInputException e = assertThrows(BadInputException.class, () -> SafetensorsFile.open(p));
        assertEquals(p.toString(), e.source());
        assertTrue(e.getMessage().contains("exceed the data section of 0 bytes"), e.getMessage());
    }

    @Test
    void missingFileNamesIt(@TempDir Path dir) {
        Path p = dir.resolve("nope.safetensors");
        BadInputException e = assertThrows(BadInputException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.userMessage().startsWith(p + ": cannot read"), e.userMessage());
    }
}
