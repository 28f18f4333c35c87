package dev.lowbit.kernels.trit;

/**
 * Multiplication-free GEMV / GEMM on trit-plane weights (T-MAC's idea on ternary codes): for each pair of activations
 * (x₂ₖ, x₂ₖ₊₁) precompute the 16 partial sums (q₀ − 1)·x₂ₖ + (q₁ − 1)·x₂ₖ₊₁ for every nibble q₀ | q₁ << 2 (by additions
 * and subtractions only), then every output is a sum of table entries indexed by the packed codes; the scale of a
 * plane multiplies once per row and group:
 * <pre>
 *   y[r] = Σₚ Σ_g αₚ[r, g] · Σ_{pairs k of group g} LUT_k[nibble_p(r, k)]
 * </pre>
 * Two implementations with the same loop order per row block: {@link #scalar()} and {@link #vector()} (16 rows at once,
 * the table lookup a lane permutation of a 16-float vector). Both sum in the same order, so they agree to the bit.
 */
public interface TritLut {
    /** y[0..rows) = W·x for one activation vector x[0..cols). */
    void gemv(TritMatrix w, float[] x, int xOff, float[] y, int yOff);

    /** The 16-entry tables of every column pair of x: {@code lut[k·16 + nibble]}, built by additions only. */
    static void buildTables(float[] x, int xOff, int cols, float[] lut) {
        int pairs = Math.ceilDiv(cols, 4) * 2;
        for (int k = 0; k < pairs; k++) {
            int c = 2 * k;
            float a = c < cols ? x[xOff + c] : 0f;
            float b = c + 1 < cols ? x[xOff + c + 1] : 0f;
            int o = k * 16;
            // nibble = q0 | q1 << 2, value (q0 − 1)·a + (q1 − 1)·b; q = 3 never occurs (entry 0)
            float[] va = {-a, 0f, a, 0f};
            float[] vb = {-b, 0f, b, 0f};
            for (int q1 = 0; q1 < 4; q1++) {
                for (int q0 = 0; q0 < 4; q0++) lut[o + (q1 << 2 | q0)] = q0 == 3 || q1 == 3 ? 0f : va[q0] + vb[q1];
            }
        }
    }

    /** Table length for a matrix of {@code cols} columns. */
    static int tableLength(int cols) {
        return Math.ceilDiv(cols, 4) * 2 * 16;
    }

    /** GEMM: {@code n} activation rows x[i·cols ..], outputs y[i·rows ..]. */
    default void gemm(TritMatrix w, float[] x, int n, float[] y) {
        for (int i = 0; i < n; i++) gemv(w, x, i * w.cols, y, i * w.rows);
    }

    String name();

    static TritLut scalar() {
        return ScalarTritLut.INSTANCE;
    }

    /** The Vector API implementation; {@link UnsupportedOperationException} when it cannot run here. */
    static TritLut vector() {
        return TritLuts.vector();
    }

    /** The implementation chosen once at start-up (vector when available, {@code -Dlowbit.vectorization=scalar} forces scalar). */
    static TritLut chosen() {
        return TritLuts.CHOSEN;
    }
}
