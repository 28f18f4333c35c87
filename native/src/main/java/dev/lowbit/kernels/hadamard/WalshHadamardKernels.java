package dev.lowbit.kernels.hadamard;

/**
 * The fast Walsh–Hadamard transform: {@code x ← x·H_n} for the Sylvester matrix H_n (n a power of two, entries ±1,
 * unnormalised, symmetric), in n·log₂n additions and subtractions.
 *
 * <p>Sylvester order: H_1 = [1], H_2m = [[H_m, H_m], [H_m, −H_m]], so H[i][j] = (−1)^popcount(i & j). The transform runs
 * log₂n butterfly stages of stride h = 1, 2, 4, …, n/2; a stage replaces each pair (x[j], x[j+h]) with
 * (x[j] + x[j+h], x[j] − x[j+h]). Every implementation performs exactly these float operations in this order, so all
 * give bit-identical results (the tests require it).
 *
 * <p>{@link HadamardKernels#chosen()} picks the implementation once per JVM.
 */
public interface WalshHadamardKernels {

    /**
     * In place {@code x[off .. off+n) ← x[off .. off+n)·H_n}, unnormalised (the result is √n times the orthonormal one).
     *
     * @throws IllegalArgumentException when n is not a power of two
     */
    void fwht(float[] x, int off, int n);

    /** {@code rows} consecutive vectors of length n starting at {@code off}, each transformed as by {@link #fwht}. */
    default void fwhtRows(float[] x, int off, int rows, int n) {
        for (int r = 0; r < rows; r++) fwht(x, off + r * n, n);
    }

    /** A short name for logs and benchmark reports ({@code scalar}, {@code panama(256-bit)}). */
    String name();

    /** Checks n ≥ 1 is a power of two and the range lies inside the array. */
    static void checkArgs(float[] x, int off, int n) {
        if (n <= 0 || (n & (n - 1)) != 0) {
            throw new IllegalArgumentException("Walsh–Hadamard size " + n + " is not a power of two");
        }
        java.util.Objects.checkFromIndexSize(off, n, x.length);
    }
}
