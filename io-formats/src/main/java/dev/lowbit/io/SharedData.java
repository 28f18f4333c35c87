package dev.lowbit.io;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the project's shared fixtures and reference data live: the {@code shared/} directory beside the repository
 * root ({@code ../shared} from it). The one definition every test, benchmark and tool uses: the system property
 * {@code lowbit.shared} (the build's surefire configuration and the {@code lowbit} launcher set it), else the first
 * {@code shared/} found beside the working directory or one of its parents (a module directory is one level below the
 * root). Nothing here reads or writes the fixtures; they are read-only.
 */
public final class SharedData {
    /** The system property that names the shared directory. */
    public static final String PROPERTY = "lowbit.shared";

    private SharedData() {}

    /** The shared directory, absolute and normalized; it need not exist (callers report missing files themselves). */
    public static Path root() {
        String p = System.getProperty(PROPERTY);
        if (p != null && !p.isBlank()) return Path.of(p).toAbsolutePath().normalize();
        Path cwd = Path.of("").toAbsolutePath();
        for (Path dir = cwd; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolveSibling("shared");
            if (dir.getParent() != null && Files.isDirectory(candidate)) return candidate.normalize();
        }
        return cwd.resolveSibling("shared").normalize();
    }

    /** A path inside the shared directory, e.g. {@code resolve("data/calib_code.txt")}. */
    public static Path resolve(String relative) {
        return root().resolve(relative);
    }

    /** {@code models/tiny-llama-code}: the trained Llama checkpoint in Hugging Face layout. */
    public static Path tinyLlama() {
        return resolve("models/tiny-llama-code");
    }

    /** A file under {@code data/}, e.g. {@code data("eval_code.txt")}. */
    public static Path data(String name) {
        return root().resolve("data").resolve(name);
    }
}
