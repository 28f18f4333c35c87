package dev.lowbit.calib.data;

import dev.lowbit.io.BadInputException;
import java.util.SplittableRandom;

/** Fixed-length windows cut from a token stream. */
public final class TokenWindows {
    private TokenWindows() {}

    /**
     * The first {@code max} non-overlapping windows of {@code length} tokens from token 0 (all whole windows when
     * {@code max ≤ 0}); the remainder is dropped.
     */
    public static int[][] first(int[] tokens, int length, int max, String source) {
        int available = tokens.length / length;
        if (available == 0) {
            throw new BadInputException(source, "only " + tokens.length + " tokens, shorter than one window of " + length);
        }
        int n = max > 0 ? Math.min(max, available) : available;
        int[][] out = new int[n][];
        for (int w = 0; w < n; w++) out[w] = java.util.Arrays.copyOfRange(tokens, w * length, (w + 1) * length);
        return out;
    }

    /**
     * Exactly {@code count} non-overlapping windows of {@code length} tokens from token 0, as calibration asks for them:
     * a text too short for {@code count} is refused with what it holds (the artifact records the count asked for, so
     * taking fewer in silence would misstate how it was calibrated).
     */
    public static int[][] exactly(int[] tokens, int length, int count, String source) {
        int available = tokens.length / length;
        if (available < count) {
            throw new BadInputException(source, tokens.length + " tokens make " + available + " window(s) of " + length
                    + ", fewer than the " + count + " asked for (ask for fewer or shorter windows, or give more text)");
        }
        return first(tokens, length, count, source);
    }

    /** {@code n} windows of {@code length} tokens starting at uniformly random offsets (may overlap), seeded. */
    public static int[][] random(int[] tokens, int length, int n, long seed, String source) {
        if (tokens.length < length) {
            throw new BadInputException(source, "only " + tokens.length + " tokens, shorter than one window of " + length);
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        int[][] out = new int[n][];
        for (int w = 0; w < n; w++) {
            int start = rnd.nextInt(tokens.length - length + 1);
            out[w] = java.util.Arrays.copyOfRange(tokens, start, start + length);
        }
        return out;
    }
}
