package dev.lowbit.kernels.kquant;

import java.lang.System.Logger.Level;

/**
 * Picks the k-quant sub-block searches ({@link Qkx2Quants}, {@link QxQuants}) once per JVM: the Vector API one when
 * {@code jdk.incubator.vector} is present, else the scalar reference ({@code -Dlowbit.vectorization=scalar} forces the
 * reference). Each factory call returns a new instance with its own scratch buffers: one per thread. The choice is
 * logged once at DEBUG on {@code dev.lowbit.kernels}.
 */
public final class KQuantKernels {
    private static final System.Logger LOG = System.getLogger("dev.lowbit.kernels");
    private static final boolean VECTOR_PRESENT = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    private static final boolean USE_VECTOR = choose();

    private KQuantKernels() {}

    /** A new instance of the implementation chosen for this JVM. */
    public static Qkx2Quants newChosen() {
        return USE_VECTOR ? newVector() : newScalar();
    }

    /** A new scalar reference, always available. */
    public static Qkx2Quants newScalar() {
        return new ScalarQkx2Quants();
    }

    /**
     * A new Vector API implementation regardless of the start-up choice (tests and benchmarks compare both).
     *
     * @throws UnsupportedOperationException when {@code jdk.incubator.vector} is not in the boot layer or fails to load
     */
    public static Qkx2Quants newVector() {
        return (Qkx2Quants) load("PanamaQkx2Quants");
    }

    /** A new {@link QxQuants} of the implementation chosen for this JVM. */
    public static QxQuants newChosenQx() {
        return USE_VECTOR ? (QxQuants) load("PanamaQxQuants") : newScalarQx();
    }

    /** A new scalar {@link QxQuants} reference. */
    public static QxQuants newScalarQx() {
        return new ScalarQxQuants();
    }

    /** A new Vector API {@link QxQuants} regardless of the start-up choice (tests compare both). */
    public static QxQuants newVectorQx() {
        return (QxQuants) load("PanamaQxQuants");
    }

    private static Object load(String simpleName) {
        if (!VECTOR_PRESENT) {
            throw new UnsupportedOperationException("jdk.incubator.vector is not available; run java with --add-modules jdk.incubator.vector");
        }
        try {
            return Class.forName("dev.lowbit.kernels.kquant." + simpleName).getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new UnsupportedOperationException("the Vector API k-quant search failed to load: " + e, e);
        }
    }

    private static boolean choose() {
        boolean vector = false;
        String why;
        if ("scalar".equals(System.getProperty("lowbit.vectorization"))) {
            why = "forced by -Dlowbit.vectorization=scalar";
        } else if (!VECTOR_PRESENT) {
            why = "jdk.incubator.vector not present (add --add-modules jdk.incubator.vector)";
        } else {
            try {
                newVector();
                newVectorQx();
                vector = true;
                why = "jdk.incubator.vector present";
            } catch (UnsupportedOperationException e) {
                why = e.getMessage();
            }
        }
        LOG.log(Level.DEBUG, "lowbit kernels: using {0} k-quant search ({1})", vector ? "vector" : "scalar", why);
        return vector;
    }
}
