package dev.lowbit.kernels.legacy;

import java.lang.foreign.MemorySegment;
import java.util.Random;

/**
 * The Vector API quantizers once they run at compiled speed, the scalar ones until then: until C2 compiles them, Vector
 * API methods run as Java fallbacks 10-100× slower than the scalar loop (on a 27M-weight model the whole Q8_0 run is
 * over before they are compiled, and compiling them costs more CPU than it saves). Once the scalar path has quantized
 * 2²⁶ elements (a quarter of a second; a 27M-weight model never gets there), a daemon thread times both on a fixed 8,192-element row,
 * alternating, and switches every caller to the vector path once it has won three passes in a row; if it has not
 * within 10 s (no intrinsics on this machine), the scalar path stays. Both produce the same bytes, so the switch point
 * does not show in any output.
 */
final class WarmingLegacyQuants implements LegacyQuants {
    private static final int N = 8192, WINS = 3;
    private static final long GIVE_UP_NANOS = 10_000_000_000L, SCALAR_FIRST = 1L << 26;

    private final LegacyQuants vector, scalar;
    private volatile boolean warm;
    private final java.util.concurrent.atomic.AtomicBoolean started = new java.util.concurrent.atomic.AtomicBoolean();

    WarmingLegacyQuants(LegacyQuants vector, LegacyQuants scalar) {
        this.vector = vector;
        this.scalar = scalar;
    }

    /** Elements quantized on the scalar path so far (racy adds between threads: it only decides when to warm up). */
    private long scalarElements;

    private LegacyQuants current(int n) {
        if (warm) return vector;
        scalarElements += n;
        if (scalarElements >= SCALAR_FIRST) startWarmUp();
        return scalar;
    }

    /** A caller's plan: {@code elements} to quantize; at least 2²⁶ of them start the warm-up now, not 2²⁶ elements in. */
    void expect(long elements) {
        if (elements >= SCALAR_FIRST) startWarmUp();
    }

    private void startWarmUp() {
        if (!started.get() && started.compareAndSet(false, true)) {
            Thread.ofPlatform().daemon().name("lowbit-vector-warmup").start(this::warmUp);
        }
    }

    /** Whether calls go to the vector implementation now. */
    boolean warm() {
        return warm;
    }

    private void warmUp() {
        float[] x = new float[N];
        Random r = new Random(0);
        for (int i = 0; i < N; i++) x[i] = (float) r.nextGaussian();
        MemorySegment dst = MemorySegment.ofArray(new byte[N / QK * Q8_0_BYTES]);
        int wins = 0;
        long start = System.nanoTime();
        while (wins < WINS && System.nanoTime() - start < GIVE_UP_NANOS) {
            long t0 = System.nanoTime();
            vector.quantizeQ8_0(x, 0, N, dst, 0);
            vector.quantizeQ4_0(x, 0, N, dst, 0);
            long t1 = System.nanoTime();
            scalar.quantizeQ8_0(x, 0, N, dst, 0);
            scalar.quantizeQ4_0(x, 0, N, dst, 0);
            long t2 = System.nanoTime();
            wins = t1 - t0 < t2 - t1 ? wins + 1 : 0;
        }
        warm = wins >= WINS;
    }

    @Override
    public void quantizeQ8_0(float[] x, int xo, int n, MemorySegment dst, long off) {
        current(n).quantizeQ8_0(x, xo, n, dst, off);
    }

    @Override
    public void quantizeQ4_0(float[] x, int xo, int n, MemorySegment dst, long off) {
        current(n).quantizeQ4_0(x, xo, n, dst, off);
    }
}
