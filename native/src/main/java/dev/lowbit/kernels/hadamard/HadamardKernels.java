package dev.lowbit.kernels.hadamard;

import java.lang.System.Logger.Level;

/**
 * Picks the Walsh–Hadamard implementation once per JVM: the Vector API one when {@code jdk.incubator.vector} is present
 * and its preferred float vector is at least 128 bits, else the scalar reference ({@code -Dlowbit.vectorization=scalar}
 * forces the reference). The choice is logged once at DEBUG on {@code dev.lowbit.kernels}.
 */
public final class HadamardKernels {
    private static final System.Logger LOG = System.getLogger("dev.lowbit.kernels");
    private static final WalshHadamardKernels PANAMA = loadPanama();
    private static final WalshHadamardKernels CHOSEN = choose();

    private HadamardKernels() {}

    /** The implementation chosen for this JVM. */
    public static WalshHadamardKernels chosen() {
        return CHOSEN;
    }

    /** The scalar reference, always available. */
    public static WalshHadamardKernels scalar() {
        return ScalarWalshHadamard.INSTANCE;
    }

    /**
     * The Vector API implementation regardless of the start-up choice (tests and benchmarks compare both).
     *
     * @throws UnsupportedOperationException when {@code jdk.incubator.vector} is not in the boot layer
     */
    public static WalshHadamardKernels vector() {
        if (PANAMA == null) {
            throw new UnsupportedOperationException("jdk.incubator.vector is not available; run java with --add-modules jdk.incubator.vector");
        }
        return PANAMA;
    }

    private static WalshHadamardKernels choose() {
        WalshHadamardKernels chosen;
        String why;
        if ("scalar".equals(System.getProperty("lowbit.vectorization"))) {
            chosen = ScalarWalshHadamard.INSTANCE;
            why = "forced by -Dlowbit.vectorization=scalar";
        } else if (PANAMA == null) {
            chosen = ScalarWalshHadamard.INSTANCE;
            why = "jdk.incubator.vector not present (add --add-modules jdk.incubator.vector)";
        } else if (PanamaWalshHadamard.vectorBitSize() < 128) {
            chosen = ScalarWalshHadamard.INSTANCE;
            why = "preferred vector size below 128 bits";
        } else {
            chosen = PANAMA;
            why = "jdk.incubator.vector present";
        }
        LOG.log(Level.DEBUG, "lowbit kernels: using {0} Walsh–Hadamard ({1})", chosen.name(), why);
        return chosen;
    }

    /** Loaded by name so that this class links without the incubator module. */
    private static WalshHadamardKernels loadPanama() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) return null;
        try {
            return (WalshHadamardKernels) Class.forName("dev.lowbit.kernels.hadamard.PanamaWalshHadamard")
                    .getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            LOG.log(Level.DEBUG, "lowbit kernels: Vector API Walsh–Hadamard failed to load", e);
            return null;
        }
    }
}
