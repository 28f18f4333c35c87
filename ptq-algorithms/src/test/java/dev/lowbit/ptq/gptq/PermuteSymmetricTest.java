package dev.lowbit.ptq.gptq;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lowbit.ptq.observe.PackedSymmetric;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * act-order's H[perm][:, perm] worked in the triangle itself, against the definition on the whole matrix: every
 * entry (i, j) must be exactly H's (perm[i], perm[j]) (a permutation moves values, so no tolerance). Random
 * permutations, the identity and the reversal (cycles of every length, fixed points, the diagonal moving along).
 */
class PermuteSymmetricTest {
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 9, 64, 131})
    void permutesTheTriangleAsTheWholeMatrix(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        double[] full = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double v = rnd.nextDouble() - 0.5;
                full[i * n + j] = v;
                full[j * n + i] = v;
            }
        }
        int[] identity = new int[n], reversal = new int[n], shuffled = new int[n];
        for (int i = 0; i < n; i++) {
            identity[i] = i;
            reversal[i] = n - 1 - i;
            shuffled[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int k = rnd.nextInt(i + 1), t = shuffled[i];
            shuffled[i] = shuffled[k];
            shuffled[k] = t;
        }
        for (int[] perm : new int[][] {identity, reversal, shuffled}) {
            PackedSymmetric h = PackedSymmetric.ofUpper(full, n);
            Gptq.permuteSymmetricInPlace(h, perm);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    assertEquals(full[perm[i] * n + perm[j]], h.get(i, j), 0.0, "(" + i + ", " + j + ")");
                }
            }
        }
    }
}
