package dev.lowbit.io.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlRef;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Fuzz target for the GGUF parser. Under plain {@code mvn test} Jazzer runs in regression mode: only the seed corpus in
 * {@code src/test/resources/dev/lowbit/io/gguf/GgufFuzzTestInputs/parse/}; fuzzing starts only with
 * {@code JAZZER_FUZZ=1} (and then stops after {@code maxDuration}). The one exception the parser may throw is
 * {@link BadInputException}; whatever it accepts must survive reading every tensor and a write/read round trip.
 */
class GgufFuzzTest {
    private static final Path NAME = Path.of("fuzz.gguf");

    /** Hooks off when replaying the seeds, on when fuzzing: {@link dev.lowbit.io.fuzz.FuzzMode}. */
    @BeforeAll
    static void hooks() {
        dev.lowbit.io.fuzz.FuzzMode.configure();
    }

    @FuzzTest(maxDuration = "60s")
    void parse(byte[] data) {
        GgufFile f;
        try {
            f = GgufFile.parse(NAME, MemorySegment.ofArray(data));
        } catch (BadInputException expected) {
            return;
        }
        try (f) {
            for (GgufTensorInfo t : f.tensorInfos()) {
                MemorySegment d = f.data(t);
                assertEquals(t.byteSize(), d.byteSize());
                if (BlockCodecs.supports(t.type()) && t.elementCount() <= 1 << 16) f.dequantize(t.name());
            }
            if (writable(f)) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                try {
                    GgufWriter.copyOf(f).writeTo(Channels.newChannel(out));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                try (GgufFile g = GgufFile.parse(NAME, MemorySegment.ofArray(out.toByteArray()))) {
                    assertEquals(f.kv(), g.kv());
                    assertEquals(f.tensorInfos().size(), g.tensorInfos().size());
                    for (GgufTensorInfo t : f.tensorInfos()) assertEquals(-1L, f.data(t).mismatch(g.data(t.name())));
                }
            }
        }
    }

    /** What the writer accepts: no nested arrays (ggml rejects them) and tensor names within llama.cpp's limit. */
    private static boolean writable(GgufFile f) {
        for (GgufValue v : f.kv().values()) {
            if (v.type() == GgufValueType.ARRAY && v.asArray().elementType() == GgufValueType.ARRAY) return false;
        }
        for (GgufTensorInfo t : f.tensorInfos()) {
            if (t.name().getBytes(StandardCharsets.UTF_8).length > GgufWriter.MAX_TENSOR_NAME_BYTES) return false;
        }
        return true;
    }

    /** The hand-made seed is a valid file that exercises every value type, a nested array and a Q4_0 tensor. */
    @Test
    void seedCorpusHoldsAValidFile() {
        Path seed = Path.of("src/test/resources/dev/lowbit/io/gguf/GgufFuzzTestInputs/parse/valid_small");
        try (GgufFile f = GgufFile.parse(seed, MemorySegment.ofArray(GgmlRef.readBytes(seed)))) {
            assertEquals(11, f.kv().size());
            assertEquals(GgufValueType.ARRAY, f.get("nest").asArray().elementType());
            assertEquals(2, f.tensorInfos().size());
            assertTrue(f.hasLlamaCppLayout());
            assertEquals(4f, f.tensor("n").getFloat(3));
            parse(GgmlRef.readBytes(seed));
        }
    }
}
