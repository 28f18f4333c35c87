package dev.lowbit.kernels.legacy;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The Vector API quantizers once they run at compiled speed, the scalar ones until then: until C2 compiles them, Vector
 * API methods run as Java fallbacks 10-100× slower than the scalar loop (on a 27M-weight model the whole Q8_0 run is
 * over before they are compiled, and compiling them costs more CPU than it saves). Q8_0 and Q4_0 warm up apart, each
 * only when it is used: once the scalar path has quantized 2²⁶ elements of a type (a quarter of a second; a 27M-weight
 * model never gets there) — or at once when a caller's plan says it will ({@link #expect}) — a daemon thread times that
 * type's two paths on a fixed 8,192-element row, alternating, and switches every caller of the type to the vector path
 * once it has won three passes in a row; if it has not within 10 s (no intrinsics on this machine), the scalar path
 * stays. A Q8_0 run never compiles Q4_0's loops. Both paths produce the same bytes, so the switch point does not show
 * in any output.
 */
final class WarmingLegacyQuants implements LegacyQuants {
    private static final int N = 8192, WINS = 3, SHORT_CALLS = 200;
    private static final long GIVE_UP_NANOS = 10_000_000_000L, SCALAR_FIRST = 1L << 26;

    private final LegacyQuants vector, scalar;
    private final Type q8 = new Type(true), q4 = new Type(false);

    WarmingLegacyQuants(LegacyQuants vector, LegacyQuants scalar) {
        this.vector = vector;
        this.scalar = scalar;
    }

    /** One block type's switch. */
    private final class Type {
        private final boolean isQ8;
        private volatile boolean warm;
        private final AtomicBoolean started = new AtomicBoolean();
        /** Elements quantized on the scalar path so far (racy adds between threads: it only decides when to warm up). */
        private long scalarElements;

        Type(boolean isQ8) {
            this.isQ8 = isQ8;
        }

        LegacyQuants current(int n) {
            if (warm) return vector;
            scalarElements += n;
            if (scalarElements >= SCALAR_FIRST) start();
            return scalar;
        }

        void start() {
            if (!started.get() && started.compareAndSet(false, true)) {
                Thread.ofPlatform().daemon().name("lowbit-vector-warmup-" + (isQ8 ? "q8_0" : "q4_0")).start(this::warmUp);
            }
        }

        /**
         * Calls the vector loop mostly on one block at a time: C2 compiles a method after so many invocations (or, much
         * later, loop iterations), so short calls get it compiled after a fraction of the slow interpreted work that
         * whole rows cost; one timed row per round decides.
         */
        private void warmUp() {
            float[] x = new float[N];
            Random r = new Random(0);
            for (int i = 0; i < N; i++) x[i] = (float) r.nextGaussian();
            MemorySegment dst = MemorySegment.ofArray(new byte[N / QK * Q8_0_BYTES]);
            int wins = 0;
            long start = System.nanoTime();
            while (wins < WINS && System.nanoTime() - start < GIVE_UP_NANOS) {
                for (int i = 0; i < SHORT_CALLS; i++) run(vector, x, QK, dst);
                long t0 = System.nanoTime();
                run(vector, x, N, dst);
                long t1 = System.nanoTime();
                run(scalar, x, N, dst);
                long t2 = System.nanoTime();
                wins = t1 - t0 < t2 - t1 ? wins + 1 : 0;
            }
            warm = wins >= WINS;
        }

        private void run(LegacyQuants q, float[] x, int n, MemorySegment dst) {
            if (isQ8) q.quantizeQ8_0(x, 0, n, dst, 0);
            else q.quantizeQ4_0(x, 0, n, dst, 0);
        }
    }

    /** Whether Q8_0 calls go to the vector implementation now. */
    boolean warm() {
        return q8.warm;
    }

    /** Whether Q4_0 calls go to the vector implementation now. */
    boolean warmQ4_0() {
        return q4.warm;
    }

    /**
     * A caller's plan: {@code q8_0} and {@code q4_0} elements to quantize; a type with at least 2²⁶ of them starts its
     * warm-up now, not 2²⁶ elements in.
     */
    void expect(long q8_0, long q4_0) {
        if (q8_0 >= SCALAR_FIRST) q8.start();
        if (q4_0 >= SCALAR_FIRST) q4.start();
    }

    @Override
    public void quantizeQ8_0(float[] x, int xo, int n, MemorySegment dst, long off) {
        q8.current(n).quantizeQ8_0(x, xo, n, dst, off);
    }

    @Override
    public void quantizeQ4_0(float[] x, int xo, int n, MemorySegment dst, long off) {
        q4.current(n).quantizeQ4_0(x, xo, n, dst, off);
    }
}
