package dev.lowbit.calib.capture;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Where calibration activations go when they do not fit in memory: a budget of native memory for arrays a
 * {@link Boundary} (or a staged pass's kept state) holds, and past it one temp file per array — raw little-endian f32,
 * written from the array's own memory and read back with {@code read()} into a fresh array's memory (no mapping stays
 * resident) — in a directory {@code lowbit-spill-*} under {@code -Dlowbit.capture.spill-dir} (default
 * {@code java.io.tmpdir}), made on the first spill and deleted with everything in it on {@link #close} (on failure too;
 * on a JVM shutdown as well, a {@code kill -9} excepted). A file is deleted as soon as its array is read for the last
 * time ({@link Spilled#free}), so the disk holds at most what does not fit: about two layer boundaries.
 *
 * <p>The budget: {@code -Dlowbit.capture.resident-bytes}, default {@value #DEFAULT_BUDGET_MIB} MiB — tiny-llama-code's
 * 128 × 512 calibration (a boundary of 16 batches of 8 MiB; each batch's output takes its input's place) stays in
 * memory, as its main job always did; a 7B shape over 128 × 512 (16 batches of 64 MiB, 1 GiB) spills every batch
 * (a boundary over the budget spills whole: {@link Boundary}), one batch at a time in memory as over 8 × 512; 0 spills
 * every array.
 * A write or read that fails (no space left, an unwritable directory) is a {@link BadInputException} naming the path
 * and the cause: one line, exit code 2.
 */
public final class ActivationSpill implements AutoCloseable {
    /** Default resident budget in MiB. */
    public static final long DEFAULT_BUDGET_MIB = 128;

    private final long budget;
    private final Path parent;
    private final Consumer<String> notice;
    private long resident;
    private long spilledBytes;
    private Path dir;
    private Thread cleanup;
    private long files;

    /**
     * @param budget bytes of arrays kept in native memory, all stores of this spill together
     * @param parent where the spill directory is made
     * @param notice told once, at the first spill, where and why
     */
    public ActivationSpill(long budget, Path parent, Consumer<String> notice) {
        this.budget = budget;
        this.parent = parent;
        this.notice = notice;
    }

    /** The budget and directory from {@code -Dlowbit.capture.resident-bytes} and {@code -Dlowbit.capture.spill-dir}. */
    public static ActivationSpill fromProperties(Consumer<String> notice) {
        long budget = Long.getLong("lowbit.capture.resident-bytes", DEFAULT_BUDGET_MIB << 20);
        String dir = System.getProperty("lowbit.capture.spill-dir", System.getProperty("java.io.tmpdir"));
        return new ActivationSpill(budget, Path.of(dir), notice);
    }

    public long budget() {
        return budget;
    }

    /** Bytes of arrays now held in memory under this budget. */
    public synchronized long resident() {
        return resident;
    }

    /** Bytes written to disk so far. */
    public synchronized long spilledBytes() {
        return spilledBytes;
    }

    /** The spill directory, or null when nothing spilled yet. */
    public synchronized Path directory() {
        return dir;
    }

    /** Takes {@code bytes} of the budget if they fit: the caller keeps its array in memory and {@link #release}s them later. */
    synchronized boolean reserve(long bytes) {
        if (resident + bytes > budget) return false;
        resident += bytes;
        return true;
    }

    synchronized void release(long bytes) {
        resident -= bytes;
    }

    /** Bytes of an f32 array of {@code shape}. */
    static long bytes(Shape shape) {
        return shape.size() * Float.BYTES;
    }

    /**
     * Writes {@code a} (f32) to a new file; the caller closes {@code a}. {@code overBy} (bytes the holder is over the
     * budget in all, for the notice) is reported with the first spill.
     */
    public Spilled write(NDArray a, long overBy) {
        if (a.getDataType() != DataType.FLOAT32) throw new IllegalArgumentException("only f32 activations spill: " + a.getDataType());
        Path file = newFile(overBy);
        Shape shape = a.getShape();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            write(ch, a);
        } catch (IOException e) {
            deleteQuietly(file);
            throw failure(file, e);
        }
        synchronized (this) {
            spilledBytes += bytes(shape);
        }
        return new Spilled(file, shape);
    }

    /** An f32 array spilled to {@code file}: read back as often as needed, then {@link #free}d. */
    public final class Spilled {
        private final Path file;
        private final Shape shape;

        private Spilled(Path file, Shape shape) {
            this.file = file;
            this.shape = shape;
        }

        public Shape shape() {
            return shape;
        }

        /** A new array of {@code manager} with the written values (the caller closes it). */
        public NDArray read(NDManager manager) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                if (ch.size() != bytes(shape)) throw new IOException("holds " + ch.size() + " bytes, " + bytes(shape) + " were written");
                return ActivationSpill.read(ch, manager, shape);
            } catch (IOException e) {
                throw failure(file, e);
            }
        }

        /** Deletes the file. */
        public void free() {
            deleteQuietly(file);
        }
    }

    /** Writes f32 {@code a} at {@code ch}'s position as raw little-endian f32, from the array's own memory. */
    public static void write(FileChannel ch, NDArray a) throws IOException {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) throw new IllegalStateException("spill files are little-endian f32");
        // a flat view is contiguous (a view of contiguous memory, or a contiguous copy): its direct buffer is the data itself
        try (NDArray flat = a.reshape(-1)) {
            ByteBuffer data = flat.toByteBuffer(true);
            if (data.remaining() != bytes(a.getShape())) {
                throw new IllegalStateException("array of " + a.getShape() + " has " + data.remaining() + " bytes");
            }
            while (data.hasRemaining()) ch.write(data);
        }
    }

    /**
     * A new f32 array of {@code shape} read from {@code ch}'s position (raw little-endian f32) straight into its own
     * memory; the caller closes it.
     */
    public static NDArray read(FileChannel ch, NDManager manager, Shape shape) throws IOException {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) throw new IllegalStateException("spill files are little-endian f32");
        NDArray a = manager.create(shape, DataType.FLOAT32);
        try {
            ByteBuffer into = a.toByteBuffer(true); // the new (contiguous) array's own memory
            if (into.remaining() != bytes(shape)) throw new IllegalStateException("array of " + shape + " has " + into.remaining() + " bytes");
            while (into.hasRemaining()) if (ch.read(into) < 0) throw new IOException("ends early");
        } catch (IOException | RuntimeException e) {
            a.close();
            throw e;
        }
        return a;
    }

    private synchronized Path newFile(long overBy) {
        if (dir == null) {
            try {
                Files.createDirectories(parent);
                dir = Files.createTempDirectory(parent, "lowbit-spill-");
            } catch (IOException e) {
                throw failure(parent, e);
            }
            Path made = dir;
            cleanup = new Thread(() -> deleteTree(made), "lowbit-spill-cleanup");
            Runtime.getRuntime().addShutdownHook(cleanup);
            notice.accept(String.format(Locale.ROOT, "spilling layer activations to %s: %d MiB over budget %d MiB (-Dlowbit.capture.resident-bytes)",
                    dir, Math.ceilDiv(Math.max(0, overBy), 1L << 20), budget >> 20));
        }
        return dir.resolve(String.format(Locale.ROOT, "a%06d.f32", files++));
    }

    private static BadInputException failure(Path path, IOException e) {
        String why = e.getMessage() != null && !e.getMessage().isBlank() && !e.getMessage().equals(path.toString())
                ? e.getMessage() : e.getClass().getSimpleName();
        if (e instanceof java.nio.file.AccessDeniedException) why = "permission denied";
        if (e instanceof java.nio.file.NoSuchFileException) why = "no such directory";
        if (e instanceof java.nio.file.FileAlreadyExistsException || e instanceof java.nio.file.NotDirectoryException) why = "not a directory";
        return new BadInputException(path.toString(), "cannot spill calibration activations (" + why
                + "); set -Dlowbit.capture.spill-dir or -Dlowbit.capture.resident-bytes", e);
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // the directory goes on close
        }
    }

    private static void deleteTree(Path root) {
        if (!Files.exists(root)) return;
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(ActivationSpill::deleteQuietly);
        } catch (IOException | UncheckedIOException e) {
            // best effort at shutdown
        }
    }

    /** Deletes the spill directory and everything in it. Arrays held in memory are their holders' to close. */
    @Override
    public synchronized void close() {
        if (dir == null) return;
        deleteTree(dir);
        try {
            Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException e) {
            // shutting down already: the hook deletes it too
        }
        dir = null;
    }
}
