package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.pipeline.output.CliRun;
import dev.lowbit.io.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A gguf recipe (YAML) runs the GGUF pipeline exactly as the flags it stands for: same file, byte for byte. */
class GgufRecipeTest {
    static final Path F32 = SharedData.resolve("data/gguf/stories260K/stories260K-f32.gguf");

    @TempDir
    Path tmp;

    @Test
    void yamlRecipeEqualsTheFlags() throws IOException {
        Path flags = tmp.resolve("flags.gguf"), fromRecipe = tmp.resolve("recipe.gguf");
        CliRun a = CliRun.run("quantize", F32.toString(), "-o", flags.toString(), "--format", "gguf", "--type", "Q4_0",
                "--tensor-type", "ffn_down=F16", "--tensor-type", "attn_v=Q8_0", "-q");
        assertEquals(0, a.code(), a.err());
        Path recipe = tmp.resolve("q4_0.yaml");
        Files.writeString(recipe, """
                version: 2
                steps: [{type: rtn}]
                overrides:
                  - {pattern: ffn_down, type: F16}
                  - {pattern: attn_v, type: Q8_0}
                output: {format: gguf, type: Q4_0}
                """);
        CliRun b = CliRun.run("quantize", F32.toString(), "-o", fromRecipe.toString(), "--recipe", recipe.toString(), "-q");
        assertEquals(0, b.code(), b.err());
        assertArrayEquals(Files.readAllBytes(flags), Files.readAllBytes(fromRecipe));

        Files.writeString(recipe, Files.readString(recipe).replace("{type: rtn}", "{type: rtn, bits: 4}"));
        CliRun c = CliRun.run("quantize", F32.toString(), "-o", tmp.resolve("no.gguf").toString(), "--recipe", recipe.toString(), "-q");
        assertEquals(2, c.code(), c.err());
        assertTrue(c.err().contains("'bits' does not apply to format gguf"), c.err());
    }
}
