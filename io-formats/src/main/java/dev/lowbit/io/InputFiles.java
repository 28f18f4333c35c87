package dev.lowbit.io;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Checks made before an input file is opened. Opening a FIFO for reading blocks until a writer appears, and a device
 * can be endless, so every file lowbit reads (config, shards, GGUF, imatrix, recipe, text) must be a regular file.
 */
public final class InputFiles {
    private InputFiles() {}

    /**
     * Refuses anything but an existing regular file (links are followed), naming {@code path}.
     *
     * @param what what the file is for, in the "no such file" message (e.g. "recipe")
     */
    public static Path requireRegular(Path path, String what) {
        if (Files.isRegularFile(path)) return path;
        if (!Files.exists(path)) throw new BadInputException(path, "no such " + what + " file");
        if (Files.isDirectory(path)) throw new BadInputException(path, "is a directory, expected a " + what + " file");
        throw new BadInputException(path, "not a regular file (a FIFO, socket or device cannot be read as the " + what + " file)");
    }
}
