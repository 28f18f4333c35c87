package dev.lowbit.io.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.imatrix.Imatrix;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz target for the importance-matrix reader (llama.cpp's GGUF imatrix and the legacy {@code .dat}, told apart by
 * the magic): any bytes either read into entries whose importance values are usable (finite, ≥ 0) or fail with
 * {@link BadInputException}. Seeds: {@code ImatrixFuzzTestInputs/read/} (a real GGUF imatrix of stories260K and a
 * two-entry {@code .dat}); a crash found by fuzzing is saved there and replayed by every {@code mvn test}.
 *
 * <p>The bytes go to {@link Imatrix#parse} in memory, the code {@link Imatrix#read} runs on the mapped file: writing a
 * temp file and mapping it twice per input held the target at ~650 exec/s.
 */
class ImatrixFuzzTest {
    private static final Path NAME = Path.of("fuzz.imatrix");

    @BeforeAll
    static void hooks() {
        FuzzMode.configure();
    }

    @FuzzTest(maxDuration = "60s")
    void read(byte[] data) {
        Imatrix m;
        try {
            m = Imatrix.parse(NAME, MemorySegment.ofArray(data));
        } catch (BadInputException expected) {
            return;
        }
        m.requireUsable("fuzz"); // read() promised usable values
    }
}
