package dev.lowbit.ptq.gptq;

/**
 * A per-row clipping search scored by GPTQ's own objective instead of the weight error: for every shrink
 * p = 1 − i/grid, i = 0 … ⌊maxShrink·grid⌋ − 1, each row's range [lo, hi] (min/max, as {@code GroupQuantizer}) is
 * shrunk to [p·lo, p·hi], the whole GPTQ sweep runs with those fixed row parameters, and each row keeps the p whose
 * sweep loss Σ_j (w_j − q_j)² / [H⁻¹]_jj — the increase of ‖(W − Ŵ)X‖² that GPTQ minimises, under the damped Hessian —
 * is least (first minimum wins ties). Rows are independent in the sweep once their parameters are fixed (the error of
 * row r only moves row r), so picking p per row from whole-matrix sweeps is exact. Per channel only: with groups the
 * parameters are fitted inside the sweep from already-updated weights.
 *
 * @param grid      denominator of the shrink step
 * @param maxShrink fraction of the range the search may remove
 */
public record LossClip(int grid, double maxShrink) {
    /** p = 1.000, 0.975, …, 0.525: 20 sweeps per matrix, wide enough for 3-4-bit rows (the MSE search picks ≥ 0.6). */
    public static final LossClip DEFAULT = new LossClip(40, 0.5);

    public LossClip {
        if (grid < 1) throw new IllegalArgumentException("loss clip grid must be ≥ 1, got " + grid);
        if (!(maxShrink > 0 && maxShrink < 1)) throw new IllegalArgumentException("loss clip maxShrink must be in (0, 1), got " + maxShrink);
    }

    /** Number of shrink factors tried: ⌊maxShrink·grid⌋. */
    public int steps() {
        return (int) (maxShrink * grid);
    }

    /** The i-th shrink factor, 1 − i/grid, in f32 as the MSE search forms it. */
    public float shrink(int i) {
        return (float) (1 - (double) i / grid);
    }
}
