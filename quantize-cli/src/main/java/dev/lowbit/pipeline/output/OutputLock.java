package dev.lowbit.pipeline.output;

import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One writer per output at a time: an exclusive {@link FileLock} on the sibling {@code .OUT.lowbit-lock}, taken before
 * any work and held until the output is committed or abandoned. A second run against the same output does not wait
 * (a quantization can take hours): it fails at once with one line naming the pid that holds the lock.
 *
 * <p>The lock file is deleted on release, while still locked. That opens a classic race — a second process that
 * opened the old file just before the unlink can lock the now nameless file — so whoever gets a lock writes a random
 * token through its own descriptor and then reads the file at the path: if the path holds someone else's file, it
 * locked a ghost and tries again. The operating system drops the lock when a process dies, even by {@code kill -9};
 * the file it leaves is reused and removed by the next run.
 */
final class OutputLock implements AutoCloseable {
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
        for (int attempt = 0; attempt < 5; attempt++) {
            FileChannel ch = null;
            try {
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
                    throw new BadInputException(given, "another lowbit run" + (holder.isEmpty() ? "" : " (pid " + holder + ")")
                            + " is writing this output; wait for it to finish or choose another -o");
                }
                String token = ProcessHandle.current().pid() + " " + Long.toHexString(ThreadLocalRandom.current().nextLong());
                ch.truncate(0);
                ch.write(ByteBuffer.wrap(token.getBytes(StandardCharsets.US_ASCII)), 0);
                if (token.equals(readQuietly(file))) return new OutputLock(file, ch, lock);
                lock.release();
                ch.close();
            } catch (IOException e) {
                closeQuietly(ch);
                throw new BadInputException(given, "cannot create the lock file beside it: " + WriteFailure.reason(e));
            }
        }
        throw new BadInputException(given, "another lowbit run keeps taking the lock of this output; try again");
    }

    private static String holder(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64);
        ch.read(b, 0);
        String s = new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).strip();
        int sp = s.indexOf(' ');
        String pid = sp < 0 ? s : s.substring(0, sp);
        return pid.matches("[0-9]{1,10}") ? pid : "";
    }

    private static String readQuietly(Path p) {
        try {
            return Files.readString(p, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            return null;
        }
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
    }
}
