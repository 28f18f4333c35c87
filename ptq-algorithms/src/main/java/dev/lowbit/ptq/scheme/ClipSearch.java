package dev.lowbit.ptq.scheme;

/**
 * The optional MSE clipping search of the GPTQ reference ({@code Quantizer(mse=True)}): shrink the range [lo, hi]
 * by p = 1 − i/grid for i = 0 … ⌊maxShrink·grid⌋ − 1 and keep, per row, the (scale, zero) minimising
 * Σ |Q(w) − w|^norm over the group (first minimum wins ties).
 */
public record ClipSearch(double norm, int grid, double maxShrink) {
    /** The reference's defaults: norm 2.4, grid 100, maxshrink 0.8. */
    public static final ClipSearch REFERENCE = new ClipSearch(2.4, 100, 0.8);

    public ClipSearch {
        if (!(norm > 0)) throw new IllegalArgumentException("clip search norm must be > 0, got " + norm);
        if (grid < 1) throw new IllegalArgumentException("clip search grid must be ≥ 1, got " + grid);
        if (!(maxShrink > 0 && maxShrink <= 1)) throw new IllegalArgumentException("clip search maxShrink must be in (0, 1], got " + maxShrink);
    }

    /** Number of shrink factors tried: ⌊maxShrink·grid⌋, as Python's {@code int(maxshrink * grid)}. */
    public int steps() {
        return (int) (maxShrink * grid);
    }
}
