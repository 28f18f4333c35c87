package dev.lowbit.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The shared fixtures are found, and their location is defined in one place: {@link SharedData}. */
class SharedDataTest {
    @Test
    void findsTheFixtures() {
        assertTrue(Files.isRegularFile(SharedData.tinyLlama().resolve("config.json")), SharedData.root().toString());
        assertTrue(Files.isRegularFile(SharedData.data("calib_code.txt")));
        assertEquals(SharedData.root().resolve("data/gguf"), SharedData.resolve("data/gguf"));
    }

    /** No Java source of the project spells the property or the relative path again (tests run in a module directory). */
    @Test
    void definedOnce() throws IOException {
        Path root = Path.of("").toAbsolutePath().getParent();
        // spelled so that this file does not contain what it looks for
        List<String> needles = List.of('"' + SharedData.PROPERTY + '"', "\"../" + "shared", "\"../../" + "shared");
        assertTrue(Files.isRegularFile(root.resolve("pom.xml")), root.toString());
        List<String> offenders;
        try (Stream<Path> s = Files.walk(root)) {
            offenders = s.filter(p -> p.toString().endsWith(".java") && p.toString().contains("/src/"))
                    .filter(p -> !p.getFileName().toString().equals("SharedData.java"))
                    .filter(p -> {
                        try {
                            String text = Files.readString(p);
                            return needles.stream().anyMatch(text::contains);
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    })
                    .map(p -> root.relativize(p).toString()).sorted().toList();
        }
        assertEquals(List.of(), offenders, "use dev.lowbit.io.SharedData instead");
    }
}
