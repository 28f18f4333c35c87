package dev.lowbit.pipeline.output;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Locale;

/**
 * The cause of a failed write in the words a user acts on ({@code no space left on device}, {@code read-only file
 * system}, {@code permission denied}), without the path of whatever temporary file lowbit was writing: the caller puts
 * the user's output path in front.
 */
final class WriteFailure {
    private WriteFailure() {}

    /** The IOException inside {@code t} (itself, or the cause of an {@link UncheckedIOException}), or null. */
    static IOException ioCause(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof IOException io) return io;
        }
        return null;
    }

    private static String named(String file) {
        return file == null ? "" : " (" + file + ")";
    }

    /** The reason alone: for a {@link FileSystemException} its reason without the file names, else the message. */
    static String reason(IOException e) {
        String raw = e instanceof FileSystemException fs ? fs.getReason() : e.getMessage();
        if (raw == null) {
            raw = switch (e) {
                case AccessDeniedException x -> "permission denied";
                case FileAlreadyExistsException x -> "a file is in the way" + named(x.getFile());
                case NoSuchFileException x -> "no such file or directory" + named(x.getFile());
                case NotDirectoryException x -> "not a directory" + named(x.getFile());
                default -> e.getClass().getSimpleName();
            };
        }
        String lower = raw.toLowerCase(Locale.ROOT);
        if (lower.contains("no space left")) return "no space left on device";
        if (lower.contains("read-only file system")) return "read-only file system";
        if (lower.contains("disk quota")) return "disk quota exceeded";
        if (lower.contains("file too large")) return "file too large for this file system or the file size limit (ulimit -f)";
        if (lower.contains("permission denied")) return "permission denied";
        if (lower.contains("input/output error")) return "input/output error";
        return raw;
    }
}
