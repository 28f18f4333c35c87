package dev.lowbit.kernels.hadamard;

import java.util.Optional;

/**
 * Hadamard matrices that are not powers of two, built from their definitions (Paley 1933), never from tables.
 *
 * <p>A Hadamard matrix of order n has entries ±1 and H·Hᵀ = n·I. For an odd prime q let χ be the quadratic character
 * of GF(q) (χ(0) = 0, χ(a) = 1 for a nonzero square, −1 otherwise) and Q the Jacobsthal matrix Q[i][j] = χ(j − i).
 * <ul>
 *   <li>Paley I, q ≡ 3 (mod 4): Q is skew; with S = [[0, 1ᵀ], [−1, Q]] ((q+1)×(q+1)), H = I + S has order q + 1
 *       (q = 11 → 12, 19 → 20, 23 → 24, 43 → 44, …).</li>
 *   <li>Paley II, q ≡ 1 (mod 4): Q is symmetric; with C = [[0, 1ᵀ], [1, Q]], H replaces every 0 of C by
 *       [[1, −1], [−1, −1]] and every ±1 by ±[[1, 1], [1, −1]], of order 2(q + 1) (q = 13 → 28, 5 → 12, 17 → 36, …).</li>
 * </ul>
 * Only prime q are used (no extension-field arithmetic), which covers the orders 12, 20 and 28 QuaRot's tables start
 * with and many more; {@link #of} returns empty for an order neither construction reaches.
 */
public final class HadamardMatrices {
    private HadamardMatrices() {}

    /**
     * A Hadamard matrix of order {@code k} (k ≥ 4, k ≡ 0 mod 4, not a power of two) by a Paley construction over a prime
     * field, row-major ±1; empty when none applies.
     */
    public static Optional<byte[]> of(int k) {
        if (k < 4 || k % 4 != 0) return Optional.empty();
        int q1 = k - 1;
        if (q1 % 4 == 3 && isPrime(q1)) return Optional.of(paleyI(q1));
        if (k % 2 == 0) {
            int q2 = k / 2 - 1;
            if (q2 % 4 == 1 && isPrime(q2)) return Optional.of(paleyII(q2));
        }
        return Optional.empty();
    }

    /** Paley I of order q + 1 for a prime q ≡ 3 (mod 4). */
    static byte[] paleyI(int q) {
        int[] chi = quadraticCharacter(q);
        int n = q + 1;
        byte[] h = new byte[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                int s;
                if (i == 0 && j == 0) s = 0;
                else if (i == 0) s = 1;
                else if (j == 0) s = -1;
                else s = chi[Math.floorMod((j - 1) - (i - 1), q)];
                h[i * n + j] = (byte) (s + (i == j ? 1 : 0));
            }
        }
        return h;
    }

    /** Paley II of order 2(q + 1) for a prime q ≡ 1 (mod 4). */
    static byte[] paleyII(int q) {
        int[] chi = quadraticCharacter(q);
        int m = q + 1;
        int n = 2 * m;
        byte[] h = new byte[n * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                int c;
                if (i == 0 && j == 0) c = 0;
                else if (i == 0 || j == 0) c = 1;
                else c = chi[Math.floorMod((j - 1) - (i - 1), q)];
                // 0 → [[1, −1], [−1, −1]];  ±1 → ±[[1, 1], [1, −1]]
                int a = c == 0 ? 1 : c, b = c == 0 ? -1 : c, d = c == 0 ? -1 : c, e = c == 0 ? -1 : -c;
                h[(2 * i) * n + 2 * j] = (byte) a;
                h[(2 * i) * n + 2 * j + 1] = (byte) b;
                h[(2 * i + 1) * n + 2 * j] = (byte) d;
                h[(2 * i + 1) * n + 2 * j + 1] = (byte) e;
            }
        }
        return h;
    }

    /** χ over GF(q): 0 at 0, 1 on the nonzero squares, −1 elsewhere. */
    private static int[] quadraticCharacter(int q) {
        int[] chi = new int[q];
        java.util.Arrays.fill(chi, -1);
        chi[0] = 0;
        for (long x = 1; x < q; x++) chi[(int) (x * x % q)] = 1;
        return chi;
    }

    private static boolean isPrime(int q) {
        if (q < 2) return false;
        for (int d = 2; (long) d * d <= q; d++) if (q % d == 0) return false;
        return true;
    }
}
