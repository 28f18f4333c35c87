package dev.lowbit.pipeline.recipe;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz target for the recipe reader (JSON and YAML, version 1 and 2, validated against the step registry): any bytes,
 * read once as {@code recipe.json} and once as {@code recipe.yaml}, either give a valid recipe that writes itself
 * back as JSON and reads back equal, or fail with {@link BadInputException}. Seeds: {@code RecipeFuzzTestInputs/read/}.
 * Jazzer's hooks: off when replaying the seeds, on with {@code JAZZER_FUZZ} (as io-formats' FuzzMode; scripts/fuzz.sh).
 *
 * <p>The bytes reach {@link Recipe#read(Path, byte[])} in memory, the code {@link Recipe#read(Path)} runs after reading
 * the file: writing and reading a temp file three times per input made the target crawl (file opens were most of an
 * execution's time in a JFR profile; 185 exec/s). Relative calibration paths still resolve beside {@code dir}, where
 * {@code calib.txt} exists.
 *
 * <p>Jazzer's regex-injection sanitizer is off here, and only here: a recipe's targets, ignore and override patterns
 * are the user's own regexes over the user's own module names, compiled by design ({@code Pattern.compile} of a
 * recipe pattern is the feature, not an injection); an invalid one is refused with exit 2 and one line, which the
 * target checks. Its finding was a false positive. The regex roadblock hooks (guidance, not a sanitizer) stay on.
 */
class RecipeFuzzTest {
    static Path dir;

    @BeforeAll
    static void setUp() throws IOException {
        if (System.getProperty("jazzer.hooks") == null) {
            String fuzz = System.getenv("JAZZER_FUZZ");
            System.setProperty("jazzer.hooks", fuzz == null || fuzz.isEmpty() ? "false" : "true");
        }
        if (System.getProperty("jazzer.disabled_hooks") == null) {
            System.setProperty("jazzer.disabled_hooks", "com.code_intelligence.jazzer.sanitizers.RegexInjection");
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
            Recipe r;
            try {
                r = Recipe.read(dir.resolve(name), data);
            } catch (BadInputException expected) {
                continue;
            }
            // what we write, we read, to the same recipe
            Recipe again = Recipe.read(dir.resolve("back.json"), r.toJson().getBytes(StandardCharsets.UTF_8));
            if (!again.toJson().equals(r.toJson())) throw new AssertionError("round trip changed the recipe:\n" + r.toJson() + "\n" + again.toJson());
        }
    }
}
