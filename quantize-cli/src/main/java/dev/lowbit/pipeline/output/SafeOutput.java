package dev.lowbit.pipeline.output;

import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileSystemException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Every output lowbit writes — a directory ({@code quantize} to GPTQ / compressed-tensors) or a single file ({@code
 * quantize --format gguf}, {@code convert}, {@code tokenize -o}) — goes through here, so that no command can lose the
 * user's data or leave debris behind:
 * <ol>
 *   <li><b>Where</b>: {@link OutputTarget} refuses, before anything is written, an output that is (or contains) an
 *       input, the current or home directory or {@code /}, a device or FIFO, or an existing path lowbit did not write.</li>
 *   <li><b>One writer</b>: {@link OutputLock} on {@code .OUT.lowbit-lock}; a second run against the same output fails
 *       at once with one line.</li>
 *   <li><b>Assembly</b>: everything is written to {@code .OUT.lowbit-tmp-<pid>} beside the output, on the same file
 *       system. Temp data of dead processes (a {@code kill -9} leftover) is removed under the lock before starting.</li>
 *   <li><b>Commit</b>: a new output is renamed into place with {@code RENAME_NOREPLACE}; an existing one is swapped
 *       with {@code RENAME_EXCHANGE}, so {@code OUT} is at every instant either the old complete output or the new
 *       one; then the old one, now at the temp path, is deleted. No two-rename fallback exists: a file system without
 *       exchange support fails with a message and leaves the old output as it was.</li>
 *   <li><b>Interruption</b>: a shutdown hook (SIGTERM, SIGINT) deletes the temp data of every output still open;
 *       {@code kill -9} leftovers go at the next run (3).</li>
 *   <li><b>Errors</b>: {@link #failure} names the user's output and the cause (no space left on device, read-only
 *       file system), never a temp path.</li>
 * </ol>
 * A file output gets a sidecar manifest {@code OUT.lowbit-manifest.json}: it is what proves to a later {@code --force}
 * that lowbit wrote the file (GGUF files stay byte-identical to llama-quantize's, so the mark cannot go inside).
 */
public final class SafeOutput implements AutoCloseable {
    private static final String TMP = ".lowbit-tmp-";
    private static final Set<SafeOutput> OPEN = ConcurrentHashMap.newKeySet();
    private static volatile boolean hookInstalled;

    private enum State { WRITING, COMMITTED, ABANDONED }

    private final OutputTarget target;
    private final Path requested;
    private final boolean force;
    private final Inputs inputs;
    private final OutputLock lock;
    private final Path temp;
    private final Path sidecarTemp;
    private State state = State.WRITING;
    /** Whether the temp directory is an interrupted run's, adopted by {@link #resumeDirectory}. */
    private boolean adopted;

    /** The directory, inside the temp output, where a resumable run journals its finished layers. */
    public static final String RESUME_DIR = ".lowbit-resume";

    /** The inputs of a command, each with the name the user knows it by ({@code MODEL}, {@code --calib} …). */
    public static final class Inputs {
        private final List<OutputTarget.Input> list = new ArrayList<>();

        /** Adds {@code path} (ignored when null: an optional input that was not given). */
        public Inputs add(String label, Path path) {
            if (path != null) list.add(new OutputTarget.Input(label, path));
            return this;
        }
    }

    private SafeOutput(OutputTarget target, Path requested, boolean force, Inputs inputs, OutputLock lock, Path temp,
                       Path sidecarTemp) {
        this.target = target;
        this.requested = requested;
        this.force = force;
        this.inputs = inputs;
        this.lock = lock;
        this.temp = temp;
        this.sidecarTemp = sidecarTemp;
    }

    /** Claims an output directory: checks, locks, cleans stale temp data, creates the temp directory. */
    public static SafeOutput directory(Path out, boolean force, Inputs inputs) {
        return open(out, OutputTarget.Kind.DIRECTORY, force, inputs);
    }

    /** Claims a single output file (its directory must exist): checks, locks, cleans, creates the temp file. */
    public static SafeOutput file(Path out, boolean force, Inputs inputs) {
        return open(out, OutputTarget.Kind.FILE, force, inputs);
    }

    /**
     * As {@link #directory}, but the temp directory of an interrupted run on the same output ({@code kill -9}, a crash:
     * its pid no longer runs) that journaled its layers in {@link #RESUME_DIR} is taken over instead of deleted, the
     * newest one when there are several; {@link #adopted()} says whether one was. The caller checks the journal.
     */
    public static SafeOutput resumeDirectory(Path out, boolean force, Inputs inputs) {
        return open(out, OutputTarget.Kind.DIRECTORY, force, inputs, true);
    }

    /** Whether this output continues an interrupted run's temp directory (see {@link #resumeDirectory}). */
    public boolean adopted() {
        return adopted;
    }

    private static SafeOutput open(Path out, OutputTarget.Kind kind, boolean force, Inputs inputs) {
        return open(out, kind, force, inputs, false);
    }

    private static SafeOutput open(Path out, OutputTarget.Kind kind, boolean force, Inputs inputs, boolean resume) {
        OutputTarget first = OutputTarget.check(out, kind, force, inputs.list);
        Path parent = first.real().getParent();
        String name = first.real().getFileName().toString();
        try {
            if (kind == OutputTarget.Kind.FILE) {
                if (!Files.isDirectory(parent)) throw new BadInputException(first.given(), "directory " + parent + " does not exist");
            } else {
                Files.createDirectories(parent);
            }
        } catch (IOException e) {
            throw new BadInputException(first.given(), "cannot create its parent directory: " + WriteFailure.reason(e));
        }
        OutputLock lock = OutputLock.acquire(parent.resolve("." + name + ".lowbit-lock"), first.given());
        try {
            // another process may have committed between the first check and the lock: decide again, now alone
            OutputTarget target = OutputTarget.check(out, kind, force, inputs.list);
            long pid = ProcessHandle.current().pid();
            Path temp = parent.resolve("." + name + TMP + pid);
            Path interrupted = resume ? interruptedRun(parent, name) : null;
            removeStaleTemps(parent, name, interrupted);
            boolean adopt = false;
            if (interrupted != null) {
                try {
                    Files.move(interrupted, temp, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                    adopt = true;
                } catch (IOException e) {
                    deleteQuietly(interrupted); // cannot take it over: start afresh
                }
            }
            Path sidecarTemp = kind == OutputTarget.Kind.FILE ? parent.resolve("." + name + TMP + pid + ".manifest") : null;
            SafeOutput o = new SafeOutput(target, out, force, inputs, lock, temp, sidecarTemp);
            o.adopted = adopt;
            register(o);
            try {
                if (adopt) return o;
                if (kind == OutputTarget.Kind.DIRECTORY) Files.createDirectory(temp);
                else Files.createFile(temp);
            } catch (IOException e) {
                o.close();
                throw new BadInputException(target.given(), "cannot create the output: " + WriteFailure.reason(e));
            }
            return o;
        } catch (RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /** Where the command writes until {@link #commit}: the temp directory, or the temp file. */
    public Path path() {
        return temp;
    }

    /** The output's real path (links resolved): where it will be after {@link #commit}. */
    public Path target() {
        return target.real();
    }

    /** The output as the user typed it, for messages. */
    public String given() {
        return target.given();
    }

    /** Puts a finished output directory in place (it holds its own {@code lowbit-manifest.json}). */
    public void commit() {
        if (target.kind() != OutputTarget.Kind.DIRECTORY) throw new IllegalStateException("a file output commits with its manifest");
        if (!Manifest.isLowbitManifest(temp.resolve(Manifest.FILE_NAME))) {
            throw new IllegalStateException("an output directory is committed only with its " + Manifest.FILE_NAME);
        }
        synchronized (this) {
            requireWriting();
            recheck();
            publish(temp, target.real());
            state = State.COMMITTED;
        }
        deleteQuietly(temp); // the old output, when one was swapped out
    }

    /**
     * Puts a finished output file in place with its sidecar manifest (which records the file's name, size and sha256).
     * The sidecar goes first: its swap doubles as the check that the file system can exchange, before the file moves.
     */
    public void commit(Manifest manifest) {
        commit(manifest, null);
    }

    /**
     * {@link #commit(Manifest)} with the file's sha256 computed by the writer as it wrote the bytes in file order (so
     * the file is not read a second time), or {@code null} to hash the written file here.
     */
    public void commit(Manifest manifest, String sha256) {
        if (target.kind() != OutputTarget.Kind.FILE) throw new IllegalStateException("a directory output holds its own manifest");
        Path sidecar = Manifest.sidecarOf(target.real());
        try {
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            manifest.output(target.real().getFileName().toString(), Files.size(temp), sha256 != null ? sha256 : Manifest.sha256(temp));
            manifest.write(sidecarTemp);
        } catch (IOException e) {
            throw failure(e);
        }
        synchronized (this) {
            requireWriting();
            recheck();
            boolean swappedSidecar = Files.exists(sidecar, LinkOption.NOFOLLOW_LINKS);
            publish(sidecarTemp, sidecar);
            try {
                publish(temp, target.real());
            } catch (RuntimeException e) {
                // put the old sidecar back (or remove the new one) so the old output keeps its own manifest
                if (swappedSidecar) Renameat2.rename(sidecarTemp, sidecar, Renameat2.RENAME_EXCHANGE);
                else deleteQuietly(sidecar);
                throw e;
            }
            state = State.COMMITTED;
        }
        deleteQuietly(temp);
        deleteQuietly(sidecarTemp);
    }

    /**
     * The lock keeps other lowbit runs out, not other programs: just before the swap, what is at the output now must
     * still pass every rule (a user may have put a file there, or into the old output, while we were writing).
     */
    private void recheck() {
        OutputTarget now = OutputTarget.check(requested, target.kind(), force, inputs.list);
        if (!now.real().equals(target.real())) {
            throw new BadInputException(given(), "now resolves to " + now.real() + " instead of " + target.real() + "; not replacing it");
        }
    }

    private void requireWriting() {
        if (state != State.WRITING) throw new IllegalStateException("output " + given() + " is " + state);
    }

    /** {@code from} → {@code to}: exchange when {@code to} exists (old now at {@code from}), else a no-replace rename. */
    private void publish(Path from, Path to) {
        boolean exists = Files.exists(to, LinkOption.NOFOLLOW_LINKS);
        if (exists) {
            if (!target.existing() && to.equals(target.real())) {
                throw new BadInputException(given(), "appeared while lowbit was writing; not replacing it");
            }
            int errno = Renameat2.rename(from, to, Renameat2.RENAME_EXCHANGE);
            if (errno != 0) {
                throw new BadInputException(given(), "cannot replace it atomically: " + Renameat2.describe(errno)
                        + "; the old output is untouched (remove it yourself and run again)");
            }
            return;
        }
        int errno = Renameat2.rename(from, to, Renameat2.RENAME_NOREPLACE);
        if (errno == 0) return;
        if (errno == Renameat2.EEXIST || errno == Renameat2.ENOTEMPTY) {
            throw new BadInputException(given(), "appeared while lowbit was writing; not replacing it");
        }
        if (errno != Renameat2.ENOSYS && errno != Renameat2.EINVAL) {
            throw new BadInputException(given(), "cannot move the finished output into place: " + Renameat2.describe(errno));
        }
        // no RENAME_NOREPLACE here: a plain rename(2) is atomic too, and the lock keeps other lowbit runs out
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new BadInputException(given(), "cannot move the finished output into place atomically");
        } catch (IOException e) {
            throw new BadInputException(given(), "cannot move the finished output into place: " + WriteFailure.reason(e));
        }
    }

    /**
     * What to throw for {@code e}, raised while writing this output: a write that failed for a reason the user can act
     * on (no space, read-only, quota, permissions on the temp data) becomes a one-line {@link BadInputException} naming
     * the output; anything else is returned as it is.
     */
    public RuntimeException failure(Throwable e) {
        if (e instanceof BadInputException b) return b;
        IOException io = WriteFailure.ioCause(e);
        if (io != null) {
            String reason = WriteFailure.reason(io);
            boolean ours = io instanceof FileSystemException fs && fs.getFile() != null
                    && (fs.getFile().startsWith(temp.toString()) || (sidecarTemp != null && fs.getFile().startsWith(sidecarTemp.toString())));
            boolean environment = reason.equals("no space left on device") || reason.equals("read-only file system")
                    || reason.equals("disk quota exceeded") || reason.startsWith("file too large")
                    || reason.equals("input/output error");
            if (ours || environment) return new BadInputException(given(), "cannot write: " + reason, e);
        }
        return e instanceof RuntimeException r ? r : new IllegalStateException(e);
    }

    /** Abandons an uncommitted output (its temp data is deleted) and releases the lock. */
    @Override
    public void close() {
        boolean wasWriting;
        synchronized (this) {
            wasWriting = state == State.WRITING;
            if (wasWriting) state = State.ABANDONED;
        }
        if (wasWriting) {
            deleteQuietly(temp);
            if (sidecarTemp != null) deleteQuietly(sidecarTemp);
        }
        lock.close();
        OPEN.remove(this);
    }

    // ------------------------------------------------------------------ interruption and stale data

    private static void register(SafeOutput o) {
        if (!hookInstalled) {
            synchronized (SafeOutput.class) {
                if (!hookInstalled) {
                    Runtime.getRuntime().addShutdownHook(new Thread(SafeOutput::abandonAll, "lowbit-output-cleanup"));
                    hookInstalled = true;
                }
            }
        }
        OPEN.add(o);
    }

    /** The shutdown hook: the JVM is going down (SIGTERM, SIGINT) with outputs still open. */
    private static void abandonAll() {
        for (SafeOutput o : OPEN) {
            // close() takes the monitor, so a commit in progress finishes first; a committed output keeps its place
            o.close();
        }
    }

    /**
     * Deletes {@code .NAME.lowbit-tmp-<pid>} entries beside the output whose process is gone (or is this one: a pid
     * reused after a container restart), and the {@code .NAME.<digits>.tmp} files that lowbit versions before this
     * layer left for good after a kill. Called with the lock held, so no live lowbit run is writing them.
     */
    private static void removeStaleTemps(Path parent, String name, Path keep) {
        Pattern legacy = Pattern.compile(Pattern.quote("." + name + ".") + "[0-9]{1,20}\\.tmp");
        Pattern p = Pattern.compile(Pattern.quote("." + name + TMP) + "([0-9]{1,10})(\\.manifest)?");
        long self = ProcessHandle.current().pid();
        List<Path> entries;
        try (Stream<Path> s = Files.list(parent)) {
            entries = s.toList();
        } catch (IOException e) {
            return; // nothing we can list is nothing we can clean
        }
        for (Path e : entries) {
            if (legacy.matcher(e.getFileName().toString()).matches() && Files.isRegularFile(e, LinkOption.NOFOLLOW_LINKS)) {
                deleteQuietly(e);
                continue;
            }
            Matcher m = p.matcher(e.getFileName().toString());
            if (!m.matches() || e.equals(keep)) continue;
            long pid = Long.parseLong(m.group(1));
            Optional<ProcessHandle> h = ProcessHandle.of(pid);
            if (pid == self || h.isEmpty() || !h.get().isAlive() || startedAfter(h.get(), e)) deleteQuietly(e);
        }
    }

    /**
     * The newest temp directory of {@code .NAME} whose writer is gone and that holds a {@link #RESUME_DIR} journal, or
     * null. Called with the lock held.
     */
    private static Path interruptedRun(Path parent, String name) {
        Pattern p = Pattern.compile(Pattern.quote("." + name + TMP) + "([0-9]{1,10})");
        long self = ProcessHandle.current().pid();
        Path best = null;
        java.nio.file.attribute.FileTime newest = null;
        try (Stream<Path> s = Files.list(parent)) {
            for (Path e : s.toList()) {
                Matcher m = p.matcher(e.getFileName().toString());
                if (!m.matches() || !Files.isDirectory(e, LinkOption.NOFOLLOW_LINKS)) continue;
                if (!Files.isDirectory(e.resolve(RESUME_DIR), LinkOption.NOFOLLOW_LINKS)) continue;
                long pid = Long.parseLong(m.group(1));
                Optional<ProcessHandle> h = ProcessHandle.of(pid);
                if (pid != self && h.isPresent() && h.get().isAlive() && !startedAfter(h.get(), e)) continue; // still writing
                var t = Files.getLastModifiedTime(e.resolve(RESUME_DIR), LinkOption.NOFOLLOW_LINKS);
                if (newest == null || t.compareTo(newest) > 0) {
                    newest = t;
                    best = e;
                }
            }
        } catch (IOException e) {
            return null;
        }
        return best;
    }

    /** A live process that started after {@code p} was last written cannot be its writer: the pid was reused. */
    private static boolean startedAfter(ProcessHandle h, Path p) {
        try {
            var written = Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toInstant();
            return h.info().startInstant().map(start -> start.isAfter(written.plusSeconds(1))).orElse(false);
        } catch (IOException e) {
            return false;
        }
    }

    /** Deletes a file or a directory tree, links themselves rather than what they point to; best effort. */
    static void deleteQuietly(Path p) {
        for (int attempt = 0; attempt < 3; attempt++) {
            try {
                deleteTree(p);
                return;
            } catch (NoSuchFileException gone) {
                return;
            } catch (DirectoryNotEmptyException raced) {
                // a writer thread added a file while we emptied the directory (shutdown): go again
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return;
        if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            Files.deleteIfExists(p);
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                if (exc instanceof NoSuchFileException) return FileVisitResult.CONTINUE;
                throw exc;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null && !(exc instanceof NoSuchFileException)) throw exc;
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
