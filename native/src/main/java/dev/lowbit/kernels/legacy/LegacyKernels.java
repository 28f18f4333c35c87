package dev.lowbit.kernels.legacy;

import java.lang.System.Logger.Level;

/**
 * Picks the {@link LegacyQuants} implementation once per JVM: the Vector API one when {@code jdk.incubator.vector} is
 * present and loads — behind {@link WarmingLegacyQuants}, which keeps callers on the scalar loop until the vector one
 * runs compiled — else the scalar reference ({@code -Dlowbit.vectorization=scalar} forces the reference). The choice
 * is logged once at DEBUG on {@code dev.lowbit.kernels}.
 */
public final class LegacyKernels {
    private static final System.Logger LOG = System.getLogger("dev.lowbit.kernels");
    private static final boolean VECTOR_PRESENT = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    private static final LegacyQuants CHOSEN = choose();

    private LegacyKernels() {}

    /** The implementation chosen for this JVM (stateless: share it between threads). */
    public static LegacyQuants chosen() {
        return CHOSEN;
    }

    /**
     * Tells the chosen implementation how many weights are about to be quantized to Q8_0 and to Q4_0 (a GGUF writer's
     * plan): a type with enough of them to repay compiling its vector loop starts the warm-up at once, instead of after
     * its first 2²⁶ weights on the scalar loop. The bytes do not depend on it.
     */
    public static void expect(long q8_0, long q4_0) {
        if (CHOSEN instanceof WarmingLegacyQuants w) w.expect(q8_0, q4_0);
    }

    /** The scalar reference, always available. */
    public static LegacyQuants scalar() {
        return ScalarLegacyQuants.INSTANCE;
    }

    /**
     * The Vector API implementation regardless of the start-up choice (tests and benchmarks compare both).
     *
     * @throws UnsupportedOperationException when {@code jdk.incubator.vector} is not in the boot layer or fails to load
     */
    public static LegacyQuants vector() {
        if (!VECTOR_PRESENT) {
            throw new UnsupportedOperationException("jdk.incubator.vector is not available; run java with --add-modules jdk.incubator.vector");
        }
        try {
            return (LegacyQuants) Class.forName("dev.lowbit.kernels.legacy.PanamaLegacyQuants").getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new UnsupportedOperationException("the Vector API legacy block quantizers failed to load: " + e, e);
        }
    }

    private static LegacyQuants choose() {
        LegacyQuants k = scalar();
        String why;
        if ("scalar".equals(System.getProperty("lowbit.vectorization"))) {
            why = "forced by -Dlowbit.vectorization=scalar";
        } else {
            try {
                k = new WarmingLegacyQuants(vector(), scalar());
                why = "jdk.incubator.vector present; scalar until the vector path runs compiled";
            } catch (UnsupportedOperationException e) {
                why = e.getMessage();
            }
        }
        LOG.log(Level.DEBUG, "lowbit kernels: using {0} Q8_0/Q4_0 quantizers ({1})", k == scalar() ? "scalar" : "vector", why);
        return k;
    }
}
