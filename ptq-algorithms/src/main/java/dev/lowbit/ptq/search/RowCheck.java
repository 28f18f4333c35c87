package dev.lowbit.ptq.search;

/** The input checks every ggml search applies to a row slice before it chooses anything. */
final class RowCheck {
    private RowCheck() {}

    /**
     * {@code n} a multiple of {@code blockSize}, the slice inside {@code x}, {@code importance} (if given) at least
     * {@code n} long, and every value finite. ggml has no NaN handling (a NaN poisons its block's scale and the codes
     * become undefined), so non-finite input is rejected instead.
     */
    static void check(String type, float[] x, int off, int n, float[] importance, int blockSize) {
        if (n < 0 || n % blockSize != 0) {
            throw new IllegalArgumentException(type + ": row length " + n + " is not a multiple of " + blockSize);
        }
        if (off < 0 || off > x.length - n) {
            throw new IndexOutOfBoundsException(type + ": row [" + off + ", " + off + "+" + n + ") outside x of length " + x.length);
        }
        if (importance != null && importance.length < n) {
            throw new IllegalArgumentException(type + ": importance has " + importance.length + " values for a row of " + n);
        }
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(x[off + i])) {
                throw new IllegalArgumentException(type + ": non-finite value " + x[off + i] + " at element " + i);
            }
        }
    }
}
