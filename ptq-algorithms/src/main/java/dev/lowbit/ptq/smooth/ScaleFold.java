package dev.lowbit.ptq.smooth;

/**
 * Moves a per-channel scale s between a producer and the Linears that read its output, leaving the function unchanged:
 * for y = x·Wᵀ with x = producer output, x' = x ÷ s and W' = W·diag(s) give x'·W'ᵀ = x·Wᵀ. The producer is an RMSNorm
 * (γ ÷ s, bias ÷ s) or a Linear whose output rows feed the channels (rows ÷ s, bias ÷ s: v_proj → o_proj, up_proj →
 * down_proj, where down's input silu(gate)·up is linear in up's rows). In place, f32.
 */
public final class ScaleFold {
    private ScaleFold() {}

    /** γ ÷ s (and the norm's bias, if any). */
    public static void divideNorm(float[] gamma, float[] bias, float[] s) {
        require(gamma.length == s.length, "norm of " + gamma.length + " channels, scales of " + s.length);
        for (int j = 0; j < s.length; j++) {
            gamma[j] /= s[j];
            if (bias != null) bias[j] /= s[j];
        }
    }

    /** Rows of a producer Linear {@code w [rows, cols]} ÷ s, and its bias; {@code rows == s.length}. */
    public static void divideRows(float[] w, int rows, int cols, float[] bias, float[] s) {
        require(rows == s.length && w.length == (long) rows * cols, "producer of " + rows + " rows, scales of " + s.length);
        for (int r = 0; r < rows; r++) {
            float inv = s[r];
            for (int c = 0; c < cols; c++) w[r * cols + c] /= inv;
            if (bias != null) bias[r] /= inv;
        }
    }

    /** Columns of a balanced Linear {@code w [rows, cols]} × s; {@code cols == s.length}. */
    public static void multiplyColumns(float[] w, int rows, int cols, float[] s) {
        require(cols == s.length && w.length == (long) rows * cols, "balanced Linear of " + cols + " inputs, scales of " + s.length);
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) w[r * cols + c] *= s[c];
    }

    /** Columns ÷ s: the inverse of {@link #multiplyColumns}. */
    public static void divideColumns(float[] w, int rows, int cols, float[] s) {
        require(cols == s.length && w.length == (long) rows * cols, "balanced Linear of " + cols + " inputs, scales of " + s.length);
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) w[r * cols + c] /= s[c];
    }

    private static void require(boolean ok, String what) {
        if (!ok) throw new IllegalArgumentException("scale fold: " + what);
    }
}
