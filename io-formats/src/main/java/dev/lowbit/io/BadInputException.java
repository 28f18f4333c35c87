package dev.lowbit.io;

import java.nio.file.Path;

/**
 * Input the user gave us is unusable: a truncated or hostile file, a wrong shape, an unknown dtype.
 * The CLI prints {@code lowbit: <file>: <reason>} on one line and exits with code 2.
 */
public final class BadInputException extends RuntimeException {
    private final String source;

    public BadInputException(String source, String reason) {
        super(reason);
        this.source = source;
    }

    public BadInputException(Path file, String reason) {
        this(file == null ? "" : file.toString(), reason);
    }

    public BadInputException(String source, String reason, Throwable cause) {
        super(reason, cause);
        this.source = source;
    }

    /** The file (or other input) at fault. */
    public String source() {
        return source;
    }

    /** The one line shown to the user, without the {@code lowbit: } prefix. */
    public String userMessage() {
        return source.isEmpty() ? getMessage() : source + ": " + getMessage();
    }
}
