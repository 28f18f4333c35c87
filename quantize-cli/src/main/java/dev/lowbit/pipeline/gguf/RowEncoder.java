package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufWriter;
import dev.lowbit.ptq.search.GgmlSearch;
import dev.lowbit.ptq.search.GgmlSearches;
import java.lang.foreign.MemorySegment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Encodes one tensor at a time into a ggml block type, streaming: rows are decoded from the source and quantized a
 * chunk at a time, the chunk split into {@code threads} contiguous row ranges that workers encode into disjoint parts
 * of one output buffer. Rows are independent in every ggml quantizer, so the bytes do not depend on the thread count.
 * With workers, the calling thread writes (and the writer hashes) one chunk while the workers encode the next.
 * Memory: a few f32 rows per worker plus two chunks of output, whatever the tensor size.
 */
final class RowEncoder implements AutoCloseable {
    /** f32 elements a worker decodes per chunk (4 MiB). */
    private static final int ELEMENTS_PER_WORKER = 1 << 20;
    /** f32 elements decoded at once before they are quantized (32 KiB: they stay in the core's cache in between). */
    private static final int ROW_GROUP_ELEMENTS = 1 << 13;

    private final int threads, elementsPerWorker;
    private final ExecutorService pool;

    RowEncoder(int threads) {
        this(threads, ELEMENTS_PER_WORKER);
    }

    /** With chunks of {@code elementsPerWorker} f32 values per worker (tests: many chunks on a small tensor). */
    RowEncoder(int threads, int elementsPerWorker) {
        this.threads = Math.max(1, threads);
        this.elementsPerWorker = elementsPerWorker;
        this.pool = this.threads == 1 ? null : Executors.newFixedThreadPool(this.threads, r -> {
            Thread t = new Thread(r, "lowbit-gguf-encode");
            t.setDaemon(true);
            return t;
        });
    }

    /** Rows of one tensor in GGUF row order, decoded to f32; called from several threads at once on disjoint rows. */
    @FunctionalInterface
    interface RowReader {
        /** Decodes rows {@code [first, first + count)} into {@code out[0 .. count·rowLength)}. */
        void read(long first, int count, float[] out);
    }

    /**
     * The bytes of a tensor of GGUF dims {@code dims} in {@code type}, its rows read from {@code source}, produced when
     * the writer asks.
     *
     * @param importance per-column weights for searches that use them ({@code dims[0]} values), or {@code null}
     */
    GgufWriter.TensorData encode(RowReader source, long[] dims, GgmlType type, float[] importance) {
        GgmlSearch search = GgmlSearches.forType(type);
        int row = Math.toIntExact(dims[0]);
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        long rows = n / row;
        long rowBytes = type.byteSizeOf(row);
        float[] weights = search.usesImportance() ? importance : null;
        int perWorker = (int) Math.max(1, Math.min(rows, elementsPerWorker / row));
        return out -> {
            int chunkRows = (int) Math.min(rows, (long) perWorker * threads);
            // two output buffers when workers encode: the caller's thread writes one chunk while they encode the next
            byte[][] bufs = new byte[pool == null ? 1 : 2][Math.toIntExact(chunkRows * rowBytes)];
            float[][] scratch = new float[threads][];
            int pendingBuf = -1, pendingBytes = 0;
            for (long first = 0, chunk = 0; first < rows; first += chunkRows, chunk++) {
                int k = (int) Math.min(chunkRows, rows - first);
                int per = Math.ceilDiv(k, threads);
                int b = (int) (chunk % bufs.length);
                MemorySegment seg = MemorySegment.ofArray(bufs[b]);
                List<Runnable> parts = new ArrayList<>();
                for (int w = 0; w < threads; w++) {
                    int lo = w * per, hi = Math.min(k, lo + per);
                    if (lo >= hi) break;
                    int worker = w;
                    long base = first;
                    parts.add(() -> {
                        // a few rows at a time (≤ 32 KiB of f32): decoded rows are still in the core's cache when quantized
                        int g = Math.max(1, Math.min(hi - lo, ROW_GROUP_ELEMENTS / row));
                        float[] x = scratch[worker];
                        if (x == null || x.length < g * row) x = scratch[worker] = new float[g * row];
                        for (int r = lo; r < hi; r += g) {
                            int m = Math.min(g, hi - r);
                            source.read(base + r, m, x);
                            for (int i = 0; i < m; i++) search.quantizeRow(x, i * row, row, weights, seg, (r + i) * rowBytes);
                        }
                    });
                }
                if (pool == null) {
                    parts.forEach(Runnable::run);
                    write(out, bufs[b], (int) (k * rowBytes));
                    continue;
                }
                List<Future<?>> encoding = submitAll(parts);
                try {
                    if (pendingBuf >= 0) write(out, bufs[pendingBuf], pendingBytes);
                } catch (IOException | RuntimeException e) {
                    encoding.forEach(f -> f.cancel(true));  // they only fill bufs[b]: nothing to wait for
                    throw e;
                }
                joinAll(encoding);
                pendingBuf = b;
                pendingBytes = (int) (k * rowBytes);
            }
            if (pendingBuf >= 0) write(out, bufs[pendingBuf], pendingBytes);
        };
    }

    private static void write(WritableByteChannel out, byte[] buf, int bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(buf, 0, bytes);
        while (b.hasRemaining()) out.write(b);
    }

    private List<Future<?>> submitAll(List<Runnable> parts) {
        List<Future<?>> fs = new ArrayList<>(parts.size());
        for (Runnable p : parts) fs.add(pool.submit(p));
        return fs;
    }

    /** Waits for every part, then rethrows the first failure (no part is still running when this returns). */
    private static void joinAll(List<Future<?>> fs) {
        Throwable failure = null;
        for (Future<?> f : fs) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) failure = new IllegalStateException("interrupted while encoding", e);
            } catch (ExecutionException e) {
                if (failure == null) failure = e.getCause();
            }
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error err) throw err;
        if (failure != null) throw new IllegalStateException(failure);
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdownNow();
    }
}
