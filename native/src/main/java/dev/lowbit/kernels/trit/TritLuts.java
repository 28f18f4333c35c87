package dev.lowbit.kernels.trit;

import java.lang.System.Logger.Level;

/** Loads and chooses the {@link TritLut} implementation once (the vector one needs 512-bit vectors and the incubator module). */
final class TritLuts {
    private static final System.Logger LOG = System.getLogger("dev.lowbit.kernels");
    private static final TritLut VECTOR = load();
    static final TritLut CHOSEN = choose();

    private TritLuts() {}

    static TritLut vector() {
        if (VECTOR == null) {
            throw new UnsupportedOperationException("the vector trit-plane kernel needs jdk.incubator.vector and 512-bit vectors");
        }
        return VECTOR;
    }

    private static TritLut load() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) return null;
        try {
            Class<?> species = Class.forName("jdk.incubator.vector.FloatVector");
            Object preferred = species.getField("SPECIES_PREFERRED").get(null);
            int bits = (int) Class.forName("jdk.incubator.vector.VectorSpecies").getMethod("vectorBitSize").invoke(preferred);
            if (bits < 512) return null;
            return (TritLut) Class.forName("dev.lowbit.kernels.trit.VectorTritLut").getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            LOG.log(Level.DEBUG, "lowbit kernels: vector trit-plane kernel failed to load", e);
            return null;
        }
    }

    private static TritLut choose() {
        TritLut t = "scalar".equals(System.getProperty("lowbit.vectorization")) || VECTOR == null ? ScalarTritLut.INSTANCE : VECTOR;
        LOG.log(Level.DEBUG, "lowbit kernels: trit-plane LUT kernel {0}", t.name());
        return t;
    }
}
