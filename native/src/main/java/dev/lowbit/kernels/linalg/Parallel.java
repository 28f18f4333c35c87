package dev.lowbit.kernels.linalg;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * Fixed-partition parallelism for the kernels: work is cut into {@link #THREADS} parts decided by the caller
 * (never by a work-stealing scheduler), part 0 runs on the calling thread, the others on daemon threads. Each output
 * element is computed by exactly one part in a fixed order, so results do not depend on scheduling.
 */
final class Parallel {
    /** Number of parts: {@code -Dlowbit.linalg.threads}, default min(2, available processors). */
    static final int THREADS = Math.max(1, Integer.getInteger("lowbit.linalg.threads",
            Math.min(2, Runtime.getRuntime().availableProcessors())));

    private static final ExecutorService POOL = THREADS > 1 ? Executors.newFixedThreadPool(THREADS - 1, r -> {
        Thread t = new Thread(r, "lowbit-linalg");
        t.setDaemon(true);
        return t;
    }) : null;

    private Parallel() {}

    /** Runs {@code part.accept(p)} for p in [0, parts), parts ≤ THREADS, in parallel when parts > 1. */
    static void run(int parts, IntConsumer part) {
        if (parts <= 1 || POOL == null) {
            for (int p = 0; p < parts; p++) part.accept(p);
            return;
        }
        @SuppressWarnings("unchecked")
        Future<?>[] futures = new Future<?>[parts - 1];
        for (int p = 1; p < parts; p++) {
            int q = p;
            futures[p - 1] = POOL.submit(() -> part.accept(q));
        }
        part.accept(0);
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof RuntimeException re) throw re;
                if (e.getCause() instanceof Error err) throw err;
                throw new IllegalStateException(e.getCause());
            }
        }
    }

    /** Parts to use for {@code flops} of work: one below ~4 MFLOP, where a hand-off costs more than it saves. */
    static int partsFor(double flops) {
        return flops < 4e6 ? 1 : THREADS;
    }

    /** Start of part p when [0, n) is split into equal contiguous parts. */
    static int split(int n, int parts, int p) {
        return (int) ((long) n * p / parts);
    }

    /**
     * Boundaries b[0]=0 ≤ … ≤ b[parts]=n splitting [0, n) into contiguous parts of about equal total cost, where
     * index i costs {@code cost.applyAsDouble(i)}.
     */
    static int[] splitByCost(int n, int parts, java.util.function.IntToDoubleFunction cost) {
        double total = 0;
        for (int i = 0; i < n; i++) total += cost.applyAsDouble(i);
        int[] b = new int[parts + 1];
        b[parts] = n;
        double acc = 0;
        int p = 1;
        for (int i = 0; i < n && p < parts; i++) {
            acc += cost.applyAsDouble(i);
            while (p < parts && acc >= total * p / parts) b[p++] = i + 1;
        }
        while (p < parts) b[p++] = n;
        return b;
    }

    /**
     * Start of part p when rows [0, n) of a lower triangle are split into parts of equal area (row i costs ~i):
     * boundary = n·sqrt(p/parts).
     */
    static int splitTriangle(int n, int parts, int p) {
        if (p == 0) return 0;
        if (p == parts) return n;
        return (int) Math.round(n * Math.sqrt((double) p / parts));
    }
}
