package dev.lowbit.io.safetensors;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Jazzer fuzz target for the safetensors parser: any byte string either parses into tensors that can be read end to
 * end, or fails with {@link BadInputException}; every other exception (an overflow, an out-of-bounds slice, an
 * OutOfMemoryError from a claimed size) is a bug.
 *
 * <p>During a normal {@code mvn test} this runs in Jazzer's <em>regression mode</em> only: each seed under
 * {@code src/test/resources/dev/lowbit/io/safetensors/SafetensorsFuzzTestInputs/parse/} is replayed once, no fuzzing.
 * To fuzz for real, set {@code JAZZER_FUZZ=1}: the instrumentation hooks then go on ({@link dev.lowbit.io.fuzz.FuzzMode};
 * {@code scripts/fuzz.sh} runs every target):
 * <pre>
 * JAZZER_FUZZ=1 ./mvnw -o -pl io-formats -am test -Dtest=SafetensorsFuzzTest -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 * {@code maxDuration} below bounds such a run ({@code JAZZER_MAX_DURATION=30s} overrides it); the growing corpus goes
 * to {@code io-formats/.cifuzz-corpus/} (not committed) and a crashing input is saved next to the seeds, where it
 * becomes a regression test.
 */
class SafetensorsFuzzTest {
    private static final Path NAME = Path.of("fuzz.safetensors");

    @org.junit.jupiter.api.BeforeAll
    static void hooks() {
        dev.lowbit.io.fuzz.FuzzMode.configure();
    }

    @FuzzTest(maxDuration = "5m")
    void parse(byte[] data) {
        SafetensorsFile f;
        try {
            f = SafetensorsFile.parse(NAME, MemorySegment.ofArray(data));
        } catch (BadInputException expected) {
            return;
        }
        long covered = 0;
        for (String name : f.names()) {
            Tensor t = f.tensor(name);
            covered += t.byteSize();
            if (t.elementCount() > 0) {
                t.getFloat(0);
                t.getFloat(t.elementCount() - 1);
            }
        }
        // a file that parses is tiled exactly: header + tensors = whole file
        if (f.dataStart() + covered != data.length) {
            throw new AssertionError("tensors cover " + covered + " bytes after a " + f.dataStart() + "-byte prefix of a "
                    + data.length + "-byte file");
        }
        f.metadata().forEach((k, v) -> { });
        f.close();
    }
}
