package dev.lowbit.pipeline.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.ptq.search.GgmlSearch;
import dev.lowbit.ptq.search.GgmlSearches;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The streaming encoder against the plain definition — every row quantized on its own by the type's search, rows
 * concatenated — for 1, 2 and 3 threads, with chunks small enough that a tensor takes many (so the workers encode
 * one chunk while the caller writes the previous one, and the last chunk is partial and split unevenly).
 */
class RowEncoderTest {
    private static final int ROW = 256, ROWS = 203;

    @ParameterizedTest
    @CsvSource({"Q8_0,1", "Q8_0,2", "Q8_0,3", "Q4_0,2", "Q4_K,2", "Q6_K,3"})
    void bytesAreTheRowsQuantizedOneByOne(GgmlType type, int threads) throws IOException {
        float[] w = new float[ROW * ROWS];
        Random r = new Random(7);
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian() * (i % 97 == 0 ? 9 : 1);
        GgmlSearch search = GgmlSearches.forType(type);
        long rowBytes = type.byteSizeOf(ROW);
        MemorySegment expected = MemorySegment.ofArray(new byte[Math.toIntExact(rowBytes * ROWS)]);
        for (int i = 0; i < ROWS; i++) search.quantizeRow(w, i * ROW, ROW, null, expected, i * rowBytes);

        ByteArrayOutputStream got = new ByteArrayOutputStream();
        // 5 rows per worker and chunk: 203 rows are 14-41 chunks depending on the thread count
        try (RowEncoder e = new RowEncoder(threads, 5 * ROW)) {
            e.encode((first, count, x) -> System.arraycopy(w, Math.toIntExact(first * ROW), x, 0, count * ROW),
                    new long[] {ROW, ROWS}, type, null).writeTo(sink(got, 0));
        }
        assertArrayEquals(expected.toArray(ValueLayout.JAVA_BYTE), got.toByteArray(), type + " on " + threads + " threads");
    }

    /** A failing write stops the tensor with the write's exception (the workers' chunk in flight is abandoned). */
    @ParameterizedTest
    @CsvSource({"1", "2"})
    void aFailedWriteIsRethrown(int threads) {
        float[] w = new float[ROW * ROWS];
        try (RowEncoder e = new RowEncoder(threads, 5 * ROW)) {
            IOException thrown = assertThrows(IOException.class, () -> e.encode(
                    (first, count, x) -> System.arraycopy(w, Math.toIntExact(first * ROW), x, 0, count * ROW),
                    new long[] {ROW, ROWS}, GgmlType.Q8_0, null).writeTo(sink(new ByteArrayOutputStream(), 3)));
            assertEquals("disk full", thrown.getMessage());
        }
    }

    /** Collects what is written; after {@code failAfter} writes (0: never) the next one fails like a full disk. */
    private static WritableByteChannel sink(ByteArrayOutputStream into, int failAfter) {
        return new WritableByteChannel() {
            int writes;

            @Override
            public int write(ByteBuffer b) throws IOException {
                if (failAfter > 0 && ++writes > failAfter) throw new IOException("disk full");
                int n = b.remaining();
                byte[] a = new byte[n];
                b.get(a);
                into.write(a, 0, n);
                return n;
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() {}
        };
    }
}
