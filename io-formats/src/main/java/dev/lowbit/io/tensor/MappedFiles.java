package dev.lowbit.io.tensor;

import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Maps checkpoint files whole (read-only, any size) for the format readers. */
public final class MappedFiles {
    private MappedFiles() {}

    /** Builds a reader over a mapped file; it owns {@code arena} and closes it when the reader is closed. */
    @FunctionalInterface
    public interface Parser<T> {
        T parse(Arena arena, MemorySegment file);
    }

    /**
     * Maps {@code path} in a shared arena and hands it to {@code parser}. If the file cannot be read or parsing
     * fails, the mapping is released and the error (a {@link BadInputException} naming the file) propagates.
     */
    public static <T> T open(Path path, Parser<T> parser) {
        if (java.nio.file.Files.exists(path)) dev.lowbit.io.InputFiles.requireRegular(path, "checkpoint");
        Arena arena = Arena.ofShared();
        try {
            MemorySegment seg;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            } catch (IOException e) {
                throw new BadInputException(path, "cannot read: " + e.getMessage());
            }
            return parser.parse(arena, seg);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }
}
