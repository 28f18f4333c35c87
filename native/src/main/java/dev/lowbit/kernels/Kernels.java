package dev.lowbit.kernels;

import java.lang.System.Logger.Level;

/**
 * Picks the kernel implementations once per JVM: the Vector API ({@code jdk.incubator.vector}) implementation when
 * the module is present and the preferred vector shape is at least 128 bits, otherwise the scalar one. The choice is
 * logged once at DEBUG on the {@code dev.lowbit.kernels} logger.
 *
 * <p>{@code -Dlowbit.vectorization=scalar} forces the scalar kernels (for comparisons and to rule the SIMD path out
 * when chasing a bug).
 */
public final class Kernels {
    private static final System.Logger LOG = System.getLogger("dev.lowbit.kernels");
    /** The Vector API kernels, or null when the incubator module is absent or they fail to load. */
    private static final ConversionKernels PANAMA = loadPanama();
    private static final ConversionKernels CONVERSIONS = choose();

    private Kernels() {}

    /** The conversion kernels chosen for this JVM. */
    public static ConversionKernels conversions() {
        return CONVERSIONS;
    }

    /** The scalar conversion kernels, always available: the baseline for tests and benchmarks. */
    public static ConversionKernels scalarConversions() {
        return ScalarConversionKernels.INSTANCE;
    }

    /**
     * The Vector API conversion kernels regardless of the start-up choice (tests and benchmarks compare both).
     *
     * @throws UnsupportedOperationException when {@code jdk.incubator.vector} is not in the boot layer
     */
    public static ConversionKernels vectorConversions() {
        ConversionKernels k = PANAMA;
        if (k == null) {
            throw new UnsupportedOperationException("jdk.incubator.vector is not available; run java with "
                    + "--add-modules jdk.incubator.vector");
        }
        return k;
    }

    private static ConversionKernels choose() {
        String forced = System.getProperty("lowbit.vectorization", "");
        ConversionKernels chosen;
        String why;
        if (forced.equals("scalar")) {
            chosen = ScalarConversionKernels.INSTANCE;
            why = "forced by -Dlowbit.vectorization=scalar";
        } else {
            ConversionKernels panama = PANAMA;
            if (panama == null) {
                chosen = ScalarConversionKernels.INSTANCE;
                why = "jdk.incubator.vector not present (add --add-modules jdk.incubator.vector)";
            } else if (panamaBitSize() < 128) {
                chosen = ScalarConversionKernels.INSTANCE;
                why = "preferred vector size " + panamaBitSize() + " bits is below 128";
            } else {
                chosen = panama;
                why = "jdk.incubator.vector present";
            }
        }
        LOG.log(Level.DEBUG, "lowbit kernels: using {0} conversions ({1})", chosen.name(), why);
        return chosen;
    }

    private static boolean vectorModulePresent() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    /** Loaded by name so that this class links without the incubator module. */
    private static ConversionKernels loadPanama() {
        if (!vectorModulePresent()) return null;
        try {
            return (ConversionKernels) Class.forName("dev.lowbit.kernels.PanamaConversionKernels")
                    .getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            LOG.log(Level.DEBUG, "lowbit kernels: Vector API implementation failed to load", e);
            return null;
        }
    }

    private static int panamaBitSize() {
        try {
            return (int) Class.forName("dev.lowbit.kernels.PanamaConversionKernels")
                    .getDeclaredMethod("vectorBitSize").invoke(null);
        } catch (ReflectiveOperationException | LinkageError e) {
            return 0;
        }
    }
}
