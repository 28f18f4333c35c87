package dev.lowbit.io.onnx;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lowbit.io.BadInputException;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz target for the ONNX reader ({@code ModelProto} protobuf, strict validation, graph checks): any bytes either
 * parse into a model or fail with {@link BadInputException}; every other exception is a bug. A model that
 * parses is written back ({@link OnnxWriter#toBytes}), and what is written reads back and writes the same bytes again
 * (the writer's output is a fixed point of read + write). Seed: onnxruntime's test_voice_commands model
 * ({@code OnnxFuzzTestInputs/parse/}); crashes found by fuzzing are saved there and replayed by every {@code mvn test}.
 * In-memory bytes: {@link OnnxReader#parse} is the code {@link OnnxReader#read} runs on a mapped file, less external
 * data (refused here: there is no directory).
 */
class OnnxFuzzTest {
    @BeforeAll
    static void hooks() {
        dev.lowbit.io.fuzz.FuzzMode.configure();
    }

    @FuzzTest(maxDuration = "60s")
    void parse(byte[] data) {
        OnnxModel m;
        try {
            m = OnnxReader.parse(data, "fuzz.onnx");
        } catch (BadInputException expected) {
            return; // the CLI prints it as one line (TerminalText escapes any control character a hostile name carries)
        }
        byte[] once = OnnxWriter.toBytes(m);
        byte[] twice = OnnxWriter.toBytes(OnnxReader.parse(once, "fuzz.onnx (written back)"));
        if (!Arrays.equals(once, twice)) {
            throw new AssertionError("write(read(write(m))) differs from write(m): " + once.length + " vs " + twice.length + " bytes");
        }
    }
}
