package dev.lowbit.pipeline.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Writes a file on a thread of its own: the caller's bytes are copied into one of a few page-aligned off-heap buffers
 * and it goes on encoding, while this thread hashes each full buffer (SHA-256 of the file as written front to back,
 * for the manifest) and writes it at its position. A buffer whose position and length are multiples of the page size
 * goes out with {@code O_DIRECT} (no copy into the page cache, nothing left dirty for the fsync before the rename to
 * wait on); the rest — the last partial buffer, anything after a jump in position — through the ordinary channel.
 * Where the file system refuses {@code O_DIRECT} every buffer takes the ordinary path. The bytes on disk are the
 * same either way.
 *
 * <p>The SHA-256 covers the file only while it is written contiguously from offset 0; after a jump back or forward
 * {@link #sha256()} is null (the caller then hashes the finished file). Not thread-safe: one caller writes.
 */
final class BackgroundFileWriter implements WritableByteChannel {
    /** Bytes per buffer and buffers in flight: 4 × 8 MiB off-heap, whatever the tensor size. */
    static final int BUFFER_BYTES = 8 << 20, BUFFERS = 4;
    private static final long PAGE = 4096;

    /** One buffer's bytes and where they go; {@code bytes == 0} with {@code last} marks the end of the file. */
    private record Job(MemorySegment buffer, long position, int bytes, boolean hashed) {}

    private final FileChannel channel;
    private final FileChannel direct;
    private final long alignment;
    private final Arena arena = Arena.ofShared();
    private final BlockingQueue<MemorySegment> free = new ArrayBlockingQueue<>(BUFFERS);
    private final BlockingQueue<Job> jobs = new ArrayBlockingQueue<>(BUFFERS + 1);
    private final MessageDigest sha;
    private final Thread thread;
    private volatile Throwable failure;
    private volatile boolean directOk;
    private long directBytes;

    private MemorySegment current;
    private int filled;
    /** File position of the current buffer's first byte, and the logical position (where the next byte goes). */
    private long bufferStart, position;
    /** Whether every byte so far continued the file from offset 0 (the digest is the file's). */
    private boolean contiguous = true;
    private boolean closed;

    /**
     * @param channel the output, open for writing; it stays the caller's (this closes only its own direct channel)
     * @param path    the same file, opened again with {@code O_DIRECT} when {@code direct} asks for it and it works
     */
    BackgroundFileWriter(FileChannel channel, Path path, boolean direct) throws IOException {
        this.channel = channel;
        FileChannel d = null;
        long align = PAGE;
        if (direct) {
            try {
                align = Math.max(PAGE, Files.getFileStore(path).getBlockSize());
                if (BUFFER_BYTES % align == 0) {
                    d = FileChannel.open(path, new OpenOption[] {StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT});
                }
            } catch (IOException | UnsupportedOperationException e) {
                d = null;  // a file system without O_DIRECT (tmpfs): the ordinary path
            }
        }
        this.direct = d;
        this.directOk = d != null;
        this.alignment = align;
        try {
            this.sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (int i = 0; i < BUFFERS; i++) free.add(arena.allocate(BUFFER_BYTES, alignment));
        this.position = channel.position();
        this.bufferStart = position;
        if (position != 0) contiguous = false;
        this.thread = Thread.ofPlatform().daemon().name("lowbit-gguf-write").start(this::drain);
    }

    /** Where the next byte goes. */
    long position() {
        return position;
    }

    /** Moves the write position (a tensor that goes elsewhere); the bytes buffered so far are sent first. */
    void position(long p) throws IOException {
        if (p == position) return;
        send();
        contiguous = false;
        position = bufferStart = p;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        if (closed) throw new ClosedChannelException();
        rethrow();
        int n = src.remaining();
        MemorySegment from = MemorySegment.ofBuffer(src);
        long at = 0;
        while (at < n) {
            if (current == null) current = take();
            int k = (int) Math.min(n - at, BUFFER_BYTES - filled);
            MemorySegment.copy(from, at, current, filled, k);
            filled += k;
            at += k;
            position += k;
            if (filled == BUFFER_BYTES) send();
        }
        src.position(src.limit());
        return n;
    }

    /** Bytes from a memory segment (a mapped source tensor copied as it is). */
    void write(MemorySegment src) throws IOException {
        for (long at = 0; at < src.byteSize(); at += BUFFER_BYTES) {
            write(src.asSlice(at, Math.min(BUFFER_BYTES, src.byteSize() - at)).asByteBuffer());
        }
    }

    /** Waits until every byte is in the file (not yet synced: the caller forces the channel). */
    void finish() throws IOException {
        send();
        if (!closed) {
            closed = true;
            put(new Job(null, 0, 0, false));
        }
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while writing", e);
        }
        rethrow();
    }

    /** SHA-256 of the whole file after {@link #finish}, or null when it was not written front to back. */
    String sha256() {
        return contiguous ? HexFormat.of().formatHex(sha.digest()) : null;
    }

    /** Bytes that went out with O_DIRECT (a figure for the report, and for tests). */
    long directBytes() {
        return directBytes;
    }

    private void send() throws IOException {
        if (current == null || filled == 0) return;
        put(new Job(current, bufferStart, filled, contiguous));
        current = null;
        bufferStart += filled;
        filled = 0;
    }

    private MemorySegment take() throws IOException {
        try {
            MemorySegment b;
            while ((b = free.poll(100, java.util.concurrent.TimeUnit.MILLISECONDS)) == null) rethrow();
            return b;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while writing", e);
        }
    }

    private void put(Job j) throws IOException {
        try {
            while (!jobs.offer(j, 100, java.util.concurrent.TimeUnit.MILLISECONDS)) rethrow();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while writing", e);
        }
    }

    private void rethrow() throws IOException {
        Throwable f = failure;
        if (f == null) return;
        if (f instanceof IOException io) throw new IOException(io.getMessage(), io);
        if (f instanceof RuntimeException r) throw r;
        throw new IOException(f);
    }

    private void drain() {
        try {
            while (true) {
                Job j = jobs.take();
                if (j.buffer() == null) return;
                ByteBuffer b = j.buffer().asSlice(0, j.bytes()).asByteBuffer();
                if (j.hashed()) sha.update(b.duplicate());
                boolean aligned = j.position() % alignment == 0 && j.bytes() % alignment == 0;
                if (directOk && aligned) {
                    try {
                        writeFully(direct, b.duplicate(), j.position());
                        directBytes += j.bytes();
                    } catch (IOException e) {
                        directOk = false;  // refused after all: the ordinary path from here on, this buffer included
                        writeFully(channel, b, j.position());
                    }
                } else {
                    writeFully(channel, b, j.position());
                }
                free.add(j.buffer());
            }
        } catch (Throwable e) {
            failure = e;
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) at += ch.write(b, at);
    }

    /** Stops the thread (if still running) and frees the buffers; the caller's channel stays open. */
    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            if (direct != null) direct.close();
        } catch (IOException ignored) {
            // nothing was pending on it: the thread has stopped
        }
        arena.close();
    }

    @Override
    public boolean isOpen() {
        return !closed;
    }
}
