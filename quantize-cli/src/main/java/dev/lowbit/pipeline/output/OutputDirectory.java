package dev.lowbit.pipeline.output;

import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * An output directory assembled in a temporary sibling ({@code .OUT.lowbit-tmp-<pid>}) and renamed into place only
 * when complete: a failed or interrupted run leaves nothing at {@code OUT}. An existing {@code OUT} is refused unless
 * the user passed {@code --force}, in which case it is replaced only after the new output is complete.
 */
public final class OutputDirectory implements AutoCloseable {
    private final Path target;
    private final Path temp;
    private final boolean force;
    private boolean committed;

    private OutputDirectory(Path target, Path temp, boolean force) {
        this.target = target;
        this.temp = temp;
        this.force = force;
    }

    public static OutputDirectory create(Path target, boolean force) {
        Path abs = target.toAbsolutePath().normalize();
        if (Files.exists(abs) && !force) {
            throw new BadInputException(target, "output already exists (pass --force to replace it)");
        }
        Path parent = abs.getParent();
        try {
            Files.createDirectories(parent);
            Path temp = parent.resolve("." + abs.getFileName() + ".lowbit-tmp-" + ProcessHandle.current().pid());
            deleteRecursively(temp);
            Files.createDirectory(temp);
            return new OutputDirectory(abs, temp, force);
        } catch (IOException e) {
            throw new BadInputException(target, "cannot create output: " + e.getMessage());
        }
    }

    /** Where files are written until {@link #commit()}. */
    public Path dir() {
        return temp;
    }

    public Path target() {
        return target;
    }

    /** Moves the finished directory into place (replacing an old one only with --force). */
    public void commit() {
        try {
            if (Files.exists(target)) {
                if (!force) throw new BadInputException(target, "output appeared while running; not overwriting");
                Path old = target.resolveSibling("." + target.getFileName() + ".lowbit-old-" + ProcessHandle.current().pid());
                Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                deleteRecursively(old);
            } else {
                try {
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(temp, target);
                }
            }
            committed = true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move output into place at " + target, e);
        }
    }

    /** Removes the temporary directory unless the output was committed. */
    @Override
    public void close() {
        if (!committed) {
            try {
                deleteRecursively(temp);
            } catch (IOException ignored) {
                // best effort: the directory name says what it is
            }
        }
    }

    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) return;
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
