package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A model path that {@code lowbit evaluate} can run: a Hugging Face directory as it is, or, for a {@code .gguf}
 * file, a temporary Hugging Face directory written through {@link GgufModelView} (F32 weights, synthesised
 * config.json and tokenizer.json) and deleted on {@link #close()}.
 */
public final class GgufAsHfDirectory implements AutoCloseable {
    private final Path dir;
    private final Path temp;

    private GgufAsHfDirectory(Path dir, Path temp) {
        this.dir = dir;
        this.temp = temp;
    }

    /** Whether {@code path} names a GGUF file (by its magic). */
    public static boolean isGguf(Path path) {
        if (!Files.isRegularFile(path)) return false;
        try (var in = Files.newInputStream(path)) {
            byte[] m = in.readNBytes(4);
            return m.length == 4 && m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F';
        } catch (IOException e) {
            throw new BadInputException(path, "cannot read: " + e.getMessage());
        }
    }

    /** {@code model} itself, or a temporary directory holding the GGUF's Hugging Face view. */
    public static GgufAsHfDirectory of(Path model) {
        if (!isGguf(model)) return new GgufAsHfDirectory(model, null);
        Path temp;
        try {
            temp = Files.createTempDirectory("lowbit-gguf-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (GgufModelView view = GgufModelView.open(model)) {
            view.writeHfDirectory(temp);
            return new GgufAsHfDirectory(temp, temp);
        } catch (IOException | RuntimeException e) {
            delete(temp);
            if (e instanceof RuntimeException re) throw re;
            throw new UncheckedIOException((IOException) e);
        }
    }

    public Path dir() {
        return dir;
    }

    @Override
    public void close() {
        if (temp != null) delete(temp);
    }

    private static void delete(Path p) {
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a temp directory
        }
    }
}
