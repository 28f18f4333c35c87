package dev.lowbit.calib.model;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Opt-in wall-clock time of the forward's op classes, for finding where a forward spends its time:
 * {@code -Dlowbit.forward.profile=true} (e.g. through {@code LOWBIT_JAVA_OPTS}) sums {@link System#nanoTime} around
 * each op class and prints the table on stderr when the JVM exits. PyTorch's CPU ops are synchronous, so the time
 * around a call is the op's own. Off (the default), each probe is one static final boolean test.
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

    static {
        if (ON) Runtime.getRuntime().addShutdownHook(new Thread(() -> System.err.print(table())));
    }

    private ForwardProfile() {}

    /** A start time for {@link #stop} (0 when off). */
    public static long start() {
        return ON ? System.nanoTime() : 0;
    }

    /** Adds the time since {@code t0} to {@code op}; returns a new start time, so consecutive ops chain. */
    public static long stop(Op op, long t0) {
        if (!ON) return 0;
        long now = System.nanoTime();
        NANOS.addAndGet(op.ordinal(), now - t0);
        CALLS.incrementAndGet(op.ordinal());
        return now;
    }

    /** The table: op class, calls, seconds and share of the probed total. */
    public static String table() {
        long total = 0;
        for (int i = 0; i < NANOS.length(); i++) total += NANOS.get(i);
        StringBuilder sb = new StringBuilder(String.format("forward profile (wall time per op class, probed total %.3f s)%n", total / 1e9));
        for (Op op : Op.values()) {
            long n = NANOS.get(op.ordinal());
            sb.append(String.format("  %-10s %7d calls %9.3f s %5.1f %%%n", op, CALLS.get(op.ordinal()), n / 1e9,
                    total == 0 ? 0 : 100.0 * n / total));
        }
        return sb.toString();
    }
}
