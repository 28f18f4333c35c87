package dev.lowbit.kernels.hadamard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Paley constructions against the definition of a Hadamard matrix: entries ±1 and H·Hᵀ = n·I, exactly. */
class HadamardMatricesTest {

    @ParameterizedTest
    @ValueSource(ints = {12, 20, 28, 24, 36, 44, 60, 108, 140})
    void paleyOrdersAreHadamard(int n) {
        byte[] h = HadamardMatrices.of(n).orElseThrow(() -> new AssertionError("no construction for " + n));
        assertEquals(n * n, h.length);
        for (byte v : h) assertTrue(v == 1 || v == -1, "entry " + v);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                int dot = 0;
                for (int c = 0; c < n; c++) dot += h[i * n + c] * h[j * n + c];
                assertEquals(i == j ? n : 0, dot, "row " + i + " · row " + j + " of order " + n);
            }
        }
    }

    /** Orders no prime-field Paley construction reaches (52: 51 = 3·17, 25 = 5²; 172: 171 = 9·19, 85 = 5·17) and non-orders. */
    @ParameterizedTest
    @ValueSource(ints = {52, 172, 6, 10, 14, 2, 0, -4})
    void unreachableOrdersAreEmpty(int n) {
        assertTrue(HadamardMatrices.of(n).isEmpty(), "order " + n);
    }
}
