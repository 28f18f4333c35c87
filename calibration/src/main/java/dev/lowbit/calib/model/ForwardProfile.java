package dev.lowbit.calib.model;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Opt-in wall-clock time of the forward's op classes, for finding where a forward spends its time:
 * {@code -Dlowbit.forward.profile=true} (e.g. through {@code LOWBIT_JAVA_OPTS}) sums {@link System#nanoTime} around
 * each op class and prints the table on stderr when the JVM exits. PyTorch's CPU ops are synchronous, so the time
 * around a call is the op's own. Beside the wall time it sums the calling thread's CPU time: with {@code --threads 1}
 * PyTorch runs every op on that thread, so that column is the ops' work even on a machine busy with other jobs.
 * Off (the default), each probe is one static final boolean test.
 */
public final class ForwardProfile {
    /** The op classes of a forward and of the evaluator's scoring. */
    public enum Op {
        /** token ids → hidden states, decoded in Java from the mapped table */
        EMBED,
        /** a layer's (or the head's) weights decoded to f32 NDArrays */
        WEIGHTS,
        /** RMSNorm: input, post-attention, final */
        NORM,
        /** the q, k, v matmuls (and biases) */
        QKV,
        /** [B·T, n·hd] → [B, n, T, hd] head layouts and back (the context's transpose) */
        LAYOUT,
        ROPE,
        /** q·kᵀ */
        SCORES,
        /** scale, causal mask and softmax of the scores */
        SOFTMAX,
        /** probabilities · v */
        CONTEXT,
        O_PROJ,
        /** the two residual adds */
        RESIDUAL,
        /** the gate and up matmuls */
        GATE_UP,
        /** silu(gate) · up */
        SILU_MUL,
        DOWN,
        /** the final norm's output · lm_headᵀ */
        LM_HEAD,
        /** log-softmax over the vocabulary, the scored tokens' log-probabilities, their copy to Java */
        SCORE
    }

    public static final boolean ON = Boolean.getBoolean("lowbit.forward.profile");
    private static final AtomicLongArray NANOS = new AtomicLongArray(Op.values().length);
    private static final AtomicLongArray CALLS = new AtomicLongArray(Op.values().length);
    private static final AtomicLongArray CPU = new AtomicLongArray(Op.values().length);
    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();
    private static final ThreadLocal<long[]> CPU_START = ThreadLocal.withInitial(() -> new long[1]);

    static {
        if (ON) Runtime.getRuntime().addShutdownHook(new Thread(() -> System.err.print(table())));
    }

    private ForwardProfile() {}

    /** A start time for {@link #stop} (0 when off). */
    public static long start() {
        if (!ON) return 0;
        CPU_START.get()[0] = THREADS.getCurrentThreadCpuTime();
        return System.nanoTime();
    }

    /** Adds the time since {@code t0} to {@code op}; returns a new start time, so consecutive ops chain. */
    public static long stop(Op op, long t0) {
        if (!ON) return 0;
        long now = System.nanoTime();
        long[] cpu = CPU_START.get();
        long cpuNow = THREADS.getCurrentThreadCpuTime();
        NANOS.addAndGet(op.ordinal(), now - t0);
        CPU.addAndGet(op.ordinal(), cpuNow - cpu[0]);
        CALLS.incrementAndGet(op.ordinal());
        cpu[0] = cpuNow;
        return now;
    }

    /** The table: op class, calls, wall and calling-thread CPU seconds, each with its share of the probed total. */
    public static String table() {
        long total = 0, totalCpu = 0;
        for (int i = 0; i < NANOS.length(); i++) {
            total += NANOS.get(i);
            totalCpu += CPU.get(i);
        }
        StringBuilder sb = new StringBuilder(String.format(
                "forward profile: wall %.3f s, calling thread's CPU %.3f s (probed totals)%n", total / 1e9, totalCpu / 1e9));
        for (Op op : Op.values()) {
            long n = NANOS.get(op.ordinal()), c = CPU.get(op.ordinal());
            sb.append(String.format("  %-10s %7d calls  wall %8.3f s %5.1f %%  cpu %8.3f s %5.1f %%%n", op, CALLS.get(op.ordinal()),
                    n / 1e9, total == 0 ? 0 : 100.0 * n / total, c / 1e9, totalCpu == 0 ? 0 : 100.0 * c / totalCpu));
        }
        return sb.toString();
    }
}
