package dev.lowbit.kernels.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The packed-triangle kernels against the full-array ones: the same operations in the same order, so every entry
 * must carry the same bits (no tolerance). The sizes cross the Vector API kernels' block edges (the Cholesky's 64-row
 * panels and 4-vector column chunks, the inverse's 64-row blocks and 256-column tiles) and land between them. The
 * full-array kernels are themselves checked against independent references in {@link LinalgKernelsTest}.
 */
class PackedTriangleTest {
    private static final LinalgKernels SCALAR = new ScalarLinalg();
    private static final LinalgKernels VECTOR = PanamaLinalg.createIfUseful() != null ? new PanamaLinalg() : SCALAR;

    /** The lower triangle of a full n × n array, packed row by row, written out here independently of the kernels. */
    private static double[] packLower(double[] full, int n) {
        double[] p = new double[n * (n + 1) / 2];
        int at = 0;
        for (int i = 0; i < n; i++) for (int j = 0; j <= i; j++) p[at++] = full[i * n + j];
        return p;
    }

    /** The upper triangle of a full n × n array, packed row by row. */
    private static double[] packUpper(double[] full, int n) {
        double[] p = new double[n * (n + 1) / 2];
        int at = 0;
        for (int i = 0; i < n; i++) for (int j = i; j < n; j++) p[at++] = full[i * n + j];
        return p;
    }

    private static void assertSameBits(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Double.doubleToRawLongBits(expected[i]) != Double.doubleToRawLongBits(actual[i])) {
                assertEquals(expected[i], actual[i], 0.0, what + " [" + i + "]: " + expected[i] + " vs " + actual[i]);
                throw new AssertionError(what + " [" + i + "]: " + expected[i] + " vs " + actual[i] + " (sign of zero)");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 7, 63, 64, 65, 130, 207, 321})
    void choleskyAndInverseOfAPackedTriangleCarryTheFullKernelsBits(int n) {
        double[] a = LinalgKernelsTest.spd(new Random(100 + n), n);
        for (LinalgKernels k : new LinalgKernels[] {VECTOR, SCALAR}) {
            String name = k.getClass().getSimpleName() + " n=" + n;
            double[] full = a.clone();
            double[] packed = packLower(a, n);
            k.cholesky(n, full);
            k.choleskyPacked(n, packed);
            assertSameBits(packLower(full, n), packed, name + " cholesky");
            k.invertLower(n, full);
            k.invertLowerPacked(n, packed);
            assertSameBits(packLower(full, n), packed, name + " invertLower");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 66, 257, 300})
    void upperFactorOfTheInverseFromThePackedUpperTriangleCarriesTheFullOnesBits(int n) {
        double[] a = LinalgKernelsTest.spd(new Random(7 * n), n);
        for (LinalgKernels k : new LinalgKernels[] {VECTOR, SCALAR}) {
            double[] full = a.clone();
            Linalg.upperCholeskyOfInverseInPlace(k, n, full);
            double[] packed = packUpper(a, n);
            Linalg.upperCholeskyOfInversePackedInPlace(k, n, packed);
            assertSameBits(packUpper(full, n), packed, k.getClass().getSimpleName() + " n=" + n);
            // and the full factor is upper-triangular: nothing the packed form leaves out is non-zero
            for (int i = 0; i < n; i++) for (int j = 0; j < i; j++) assertEquals(0.0, full[i * n + j]);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {3, 70})
    void aPackedTriangleThatIsNotPositiveDefiniteIsRejected(int n) {
        double[] a = LinalgKernelsTest.spd(new Random(n), n);
        a[(n - 1) * n + (n - 1)] = -1; // the last pivot goes negative
        for (LinalgKernels k : new LinalgKernels[] {VECTOR, SCALAR}) {
            assertThrows(ArithmeticException.class, () -> k.choleskyPacked(n, packLower(a, n)));
        }
        assertThrows(IllegalArgumentException.class, () -> Linalg.upperCholeskyOfInversePackedInPlace(VECTOR, n, new double[n * n]));
    }
}
