package dev.lowbit.pipeline.recipe;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz target for the recipe reader (JSON and YAML, version 1 and 2, validated against the step registry): any bytes,
 * read once as {@code recipe.json} and once as {@code recipe.yaml}, either give a valid recipe that writes itself
 * back as JSON and reads back equal, or fail with {@link BadInputException}. Seeds: {@code RecipeFuzzTestInputs/read/}.
 * Jazzer's hooks: off when replaying the seeds, on with {@code JAZZER_FUZZ} (as io-formats' FuzzMode; scripts/fuzz.sh).
 */
class RecipeFuzzTest {
    static Path dir;

    @BeforeAll
    static void setUp() throws IOException {
        if (System.getProperty("jazzer.hooks") == null) {
            String fuzz = System.getenv("JAZZER_FUZZ");
            System.setProperty("jazzer.hooks", fuzz == null || fuzz.isEmpty() ? "false" : "true");
        }
        dir = Files.createTempDirectory("fuzz-recipe");
        Files.writeString(dir.resolve("calib.txt"), "calibration text for the fuzz target's recipes\n");
    }

    @AfterAll
    static void tearDown() throws IOException {
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) Files.deleteIfExists(p);
        }
        Files.deleteIfExists(dir);
    }

    @FuzzTest(maxDuration = "60s")
    void read(byte[] data) {
        for (String name : new String[] {"recipe.json", "recipe.yaml"}) {
            Path f = dir.resolve(name);
            try {
                Files.write(f, data);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Recipe r;
            try {
                r = Recipe.read(f);
            } catch (BadInputException expected) {
                continue;
            }
            Path back = dir.resolve("back.json");
            try {
                Files.writeString(back, r.toJson());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Recipe again = Recipe.read(back); // what we write, we read, to the same recipe
            if (!again.toJson().equals(r.toJson())) throw new AssertionError("round trip changed the recipe:\n" + r.toJson() + "\n" + again.toJson());
        }
    }
}
