package dev.lowbit.pipeline.output;

import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One writer per output at a time: an exclusive {@link FileLock} on the sibling {@code .OUT.lowbit-lock}, taken before
 * any work and held until the output is committed or abandoned. A second run against the same output does not wait
 * (a quantization can take hours): it fails at once with one line naming the pid that holds the lock.
 *
 * <p>The lock file is deleted on release, while still locked. That opens a classic race — a process that opened the
 * old file just before the unlink can then lock the nameless file — so a lock counts only if the path names the same
 * file (device and inode) before the open and after the lock: while we hold the file open its inode number cannot be
 * reused, so equal keys mean the path still leads to the file we locked. The operating system drops the lock when a
 * process dies, even by {@code kill -9}; the file it leaves is reused and removed by the next run.
 *
 * <p>These are POSIX record locks, which a process loses when it closes <em>any</em> descriptor of the file, so this
 * class never opens a lock file it already holds: a second claim from the same JVM is refused from {@link #HELD}.
 */
final class OutputLock implements AutoCloseable {
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;
    private boolean released;

    private OutputLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /** Locks {@code file} or throws a one-line {@link BadInputException} naming {@code given}. */
    static OutputLock acquire(Path file, String given) {
        if (!HELD.add(file)) throw busy(given, Long.toString(ProcessHandle.current().pid()));
        try {
            for (int attempt = 0; attempt < 10; attempt++) {
                OutputLock l = tryOnce(file, given);
                if (l != null) return l;
            }
            throw new BadInputException(given, "another lowbit run keeps taking the lock of this output; try again");
        } catch (RuntimeException e) {
            HELD.remove(file);
            throw e;
        }
    }

    /** One attempt: the lock, or null when the path moved under us (try again), or a busy exception. */
    private static OutputLock tryOnce(Path file, String given) {
        FileChannel ch = null;
        try {
            Object before = fileKey(file);
            ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException sameJvm) {
                lock = null;
            }
            if (lock == null) {
                String holder = holder(ch);
                ch.close();
                throw busy(given, holder);
            }
            Object after = fileKey(file);
            if (before == null || !before.equals(after)) {
                ch.close(); // created it just now, or it was replaced: go again with the file that is there
                return null;
            }
            ch.truncate(0);
            ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
            return new OutputLock(file, ch, lock);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new BadInputException(given, "cannot create the lock file beside it: " + WriteFailure.reason(e));
        }
    }

    private static BadInputException busy(String given, String holder) {
        return new BadInputException(given, "another lowbit run" + (holder.isEmpty() ? "" : " (pid " + holder + ")")
                + " is writing this output; wait for it to finish or choose another -o");
    }

    private static Object fileKey(Path p) throws IOException {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private static String holder(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64);
        ch.read(b, 0);
        String s = new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).strip();
        int sp = s.indexOf(' ');
        String pid = sp < 0 ? s : s.substring(0, sp);
        return pid.matches("[0-9]{1,10}") ? pid : "";
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch == null) return;
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    /** Deletes the lock file and releases the lock (idempotent; safe from a shutdown hook). */
    @Override
    public synchronized void close() {
        if (released) return;
        released = true;
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // the next run reuses it
        }
        try {
            if (lock.isValid()) lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        closeQuietly(channel);
        HELD.remove(file);
    }
}
