package dev.lowbit.pipeline.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GGUF writer's background file writer against a plain reference: the same writes applied to a byte array. Writes
 * of random sizes from a byte up to several buffers (so buffers fill mid-write and the last one is partial), from
 * heap buffers and from memory segments, with and without O_DIRECT; the file must hold exactly the reference bytes,
 * and its SHA-256 — computed here with {@link MessageDigest} over the reference bytes — must be what the writer reports
 * when the file was written front to back, and null after a jump in position.
 */
class BackgroundFileWriterTest {
    @TempDir
    Path tmp;

    @Test
    void frontToBackWritesGiveTheFileAndItsSha256() throws Exception {
        for (boolean direct : new boolean[] {true, false}) {
            Random r = new Random(direct ? 1 : 2);
            Path p = tmp.resolve("front-" + direct);
            byte[] expect = new byte[3 * BackgroundFileWriter.BUFFER_BYTES + 12_345];
            r.nextBytes(expect);
            long directBytes;
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                 BackgroundFileWriter w = new BackgroundFileWriter(ch, p, direct)) {
                int at = 0, k = 0;
                while (at < expect.length) {
                    int n = Math.min(expect.length - at, r.nextInt(4) == 0 ? 1 + r.nextInt(2 * BackgroundFileWriter.BUFFER_BYTES) : 1 + r.nextInt(5000));
                    if (k++ % 2 == 0) w.write(ByteBuffer.wrap(expect, at, n));
                    else w.write(MemorySegment.ofArray(Arrays.copyOfRange(expect, at, at + n)));
                    at += n;
                    assertEquals(at, w.position());
                }
                w.finish();
                assertEquals(sha256(expect), w.sha256());
                directBytes = w.directBytes();
            }
            assertArrayEquals(expect, Files.readAllBytes(p));
            if (!direct) assertEquals(0, directBytes);
            else {
                Assumptions.assumeTrue(supportsDirect(p), "no O_DIRECT on " + Files.getFileStore(p).type());
                // every full buffer went out direct; the partial last one (not a multiple of the page) did not
                assertEquals(3L * BackgroundFileWriter.BUFFER_BYTES, directBytes);
            }
        }
    }

    @Test
    void aJumpInPositionWritesThereAndDropsTheDigest() throws Exception {
        Random r = new Random(3);
        Path p = tmp.resolve("jump");
        byte[] expect = new byte[BackgroundFileWriter.BUFFER_BYTES + 9_000];
        r.nextBytes(expect);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             BackgroundFileWriter w = new BackgroundFileWriter(ch, p, true)) {
            // the tail first, then the head: as a tensor finished out of file order would be written
            int split = 4096 * 300 + 17;
            w.position(split);
            w.write(ByteBuffer.wrap(expect, split, expect.length - split));
            w.position(0);
            w.write(ByteBuffer.wrap(expect, 0, split));
            assertEquals(split, w.position());
            w.finish();
            assertNull(w.sha256());
            assertThrows(ClosedChannelException.class, () -> w.write(ByteBuffer.allocate(1)));
        }
        assertArrayEquals(expect, Files.readAllBytes(p));
    }

    private static boolean supportsDirect(Path p) {
        try (FileChannel ignored = FileChannel.open(p, StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT)) {
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }
}
