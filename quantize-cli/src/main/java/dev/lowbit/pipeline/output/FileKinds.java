package dev.lowbit.pipeline.output;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** Names the kind of a file that is neither a regular file nor a directory, from its {@code st_mode} (S_IFMT bits). */
final class FileKinds {
    private static final int S_IFMT = 0170000, S_IFSOCK = 0140000, S_IFLNK = 0120000, S_IFBLK = 0060000,
            S_IFCHR = 0020000, S_IFIFO = 0010000;

    private FileKinds() {}

    /** "a character device", "a FIFO" …, without following a link. */
    static String describe(Path p) {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "not a regular file or directory";
        }
        return switch (mode & S_IFMT) {
            case S_IFCHR -> "a character device";
            case S_IFBLK -> "a block device";
            case S_IFIFO -> "a FIFO (named pipe)";
            case S_IFSOCK -> "a socket";
            case S_IFLNK -> "a symbolic link";
            default -> "not a regular file or directory";
        };
    }
}
