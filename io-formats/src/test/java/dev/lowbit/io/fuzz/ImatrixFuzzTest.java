package dev.lowbit.io.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.imatrix.Imatrix;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz target for the importance-matrix reader (llama.cpp's GGUF imatrix and the legacy {@code .dat}, told apart by
 * the magic): any bytes either read into entries whose importance values are usable (finite, ≥ 0) or fail with
 * {@link BadInputException}. Seeds: {@code ImatrixFuzzTestInputs/read/} (a real GGUF imatrix of stories260K and a
 * two-entry {@code .dat}); a crash found by fuzzing is saved there and replayed by every {@code mvn test}.
 */
class ImatrixFuzzTest {
    static Path file;

    @BeforeAll
    static void setUp() throws IOException {
        FuzzMode.configure();
        file = Files.createTempFile("fuzz", ".imatrix");
    }

    @AfterAll
    static void tearDown() throws IOException {
        Files.deleteIfExists(file);
    }

    @FuzzTest(maxDuration = "60s")
    void read(byte[] data) {
        try {
            Files.write(file, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Imatrix m;
        try {
            m = Imatrix.read(file);
        } catch (BadInputException expected) {
            return;
        }
        m.requireUsable("fuzz"); // read() promised usable values
    }
}
