package dev.lowbit.calib.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.lowbit.io.BadInputException;

/**
 * Starts DJL's PyTorch engine once per JVM, offline and with a fixed number of intra-op threads. PyTorch reads
 * its thread counts when the engine loads, so the first caller's {@code threads} wins.
 */
public final class DjlEngine {
    private static Engine engine;

    private DjlEngine() {}

    /** The PyTorch engine; {@code threads ≤ 0} means all available processors. */
    public static synchronized Engine pytorch(int threads) {
        if (engine == null) {
            int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
            System.setProperty("ai.djl.offline", "true");
            System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(n));
            System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
            try {
                engine = Engine.getEngine("PyTorch");
            } catch (RuntimeException e) {
                throw new BadInputException("PyTorch", "DJL's PyTorch engine did not start: " + e.getMessage());
            }
        }
        return engine;
    }

    /** PyTorch's intra-op threads now (what a thread that has not run an op yet starts with). */
    public static int intraOpThreads() {
        return ai.djl.pytorch.jni.JniUtils.getNumThreads();
    }

    /**
     * Sets PyTorch's intra-op thread count for threads that run their first op after this call (each thread reads it
     * once, at its first op; the calling thread at once): how callers that run several forwards side by side on
     * threads of their own keep each to one core.
     */
    public static void setIntraOpThreads(int n) {
        ai.djl.pytorch.jni.JniUtils.setNumThreads(n);
    }

    /** A new root manager on the PyTorch engine (CPU). */
    public static NDManager newManager(int threads) {
        return pytorch(threads).newBaseManager();
    }
}
