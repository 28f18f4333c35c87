package dev.lowbit.ptq.gptq;

import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.kernels.linalg.LinalgKernels;
import dev.lowbit.ptq.grid.Grid;
import dev.lowbit.ptq.grid.IntegerGrid;
import dev.lowbit.ptq.observe.PackedSymmetric;
import dev.lowbit.ptq.scheme.GroupQuantizer;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * GPTQ (Frantar et al., 2022), step for step as the reference's {@code GPTQ.fasterquant}.
 *
 * <p>Given W (rows × cols) and the layer-input Hessian H = 2/n·Σ x·xᵀ (cols × cols), quantize column by column and
 * push each column's error onto the not-yet-quantized columns, using the upper Cholesky factor U of H⁻¹
 * (H⁻¹ = Uᵀ·U), whose row i holds the OBS update for column i given that columns &lt; i are fixed:
 *
 * <pre>
 *   dead = diag(H) == 0:  H[i,i] = 1, W[:,i] = 0
 *   act-order:  perm = argsort(diag H, descending); W = W[:, perm]; H = H[perm][:, perm]
 *   H += λ·I,  λ = percdamp · mean(diag H)
 *   U = cholesky(cholesky_inverse(cholesky(H)), upper)
 *   for each block [i1, i2) of B columns:                       (lazy batch)
 *     for i in [i1, i2):
 *       (group start: find scale, zero from W[:, i : i+groupsize] — W as of the block start)
 *       q = Q(w_i);   e = (w_i − q) / U[i,i];   loss += (w_i − q)² / U[i,i]² / 2
 *       W[:, i:i2] −= e · U[i, i:i2]                            (inside the block)
 *     W[:, i2:] −= E · U[i1:i2, i2:]                            (once per block: a GEMM)
 *   act-order: undo perm; g_idx[perm[j]] = j / groupsize (static groups: g_idx[c] = c / groupsize)
 * </pre>
 *
 * H⁻¹ and U are computed in f64 (DESIGN: Cholesky and inverses in f64) and the sweep runs in f32 as in the reference.
 * H is symmetric and U upper-triangular, so the solve holds one triangle of either ({@link PackedSymmetric}, half of
 * an n × n array): a Hessian given whole is read from its diagonal up.
 */
public final class Gptq {
    private Gptq() {}

    /** GPTQ with the kernels chosen at start-up. */
    public static GptqResult quantize(String name, float[] weight, int rows, int cols, double[] hessian, GptqConfig config) {
        return quantize(name, weight, rows, cols, hessian, config, Linalg.kernels());
    }

    /**
     * GPTQ of a {@code rows × cols} row-major weight (rows = out_features) with the {@code cols × cols} Hessian of
     * its inputs, as {@code HessianObserver.hessian()} returns it, onto the scheme's integer grid
     * ({@link IntegerGrid}). Neither input is modified.
     */
    public static GptqResult quantize(String name, float[] weight, int rows, int cols, double[] hessian,
                                      GptqConfig config, LinalgKernels kernels) {
        return quantize(name, weight, rows, cols, hessian, config, kernels, false);
    }

    /**
     * {@link #quantize} that may work in {@code weight} itself instead of a copy (it is overwritten by the
     * error-compensated weights): for callers that own it and drop it afterwards (0.18 GB at a 7B down_proj). The
     * Hessian is read, not modified. Same result as {@link #quantize}.
     */
    public static GptqResult quantizeConsuming(String name, float[] weight, int rows, int cols, double[] hessian, GptqConfig config) {
        checkHessian(name, hessian, cols);
        return quantize(name, weight, rows, cols, PackedSymmetric.ofUpper(hessian, cols), config, Linalg.kernels(), true);
    }

    /**
     * {@link #quantize} from the Hessian's upper triangle, working in {@code hessian} and {@code weight} themselves
     * instead of copies (H's triangle is overwritten by H⁻¹'s factor, W by the error-compensated weights): for callers
     * that own both and drop them afterwards — a 7B down_proj's triangle is 0.48 GB, its W 0.18 GB. Same result as
     * {@link #quantize} on the whole matrix.
     */
    public static GptqResult quantizeConsuming(String name, float[] weight, int rows, int cols, PackedSymmetric hessian, GptqConfig config) {
        checkHessian(name, hessian, cols);
        return quantize(name, weight, rows, cols, hessian, config, Linalg.kernels(), true);
    }

    private static GptqResult quantize(String name, float[] weight, int rows, int cols, double[] hessian,
                                       GptqConfig config, LinalgKernels kernels, boolean consume) {
        checkHessian(name, hessian, cols);
        return quantize(name, weight, rows, cols, PackedSymmetric.ofUpper(hessian, cols), config, kernels, consume);
    }

    /** {@code hessian} is this call's own (checked, and a copy where the caller's must survive); {@code consume}: W too. */
    private static GptqResult quantize(String name, float[] weight, int rows, int cols, PackedSymmetric hessian,
                                       GptqConfig config, LinalgKernels kernels, boolean consume) {
        GroupQuantizer.checkWeights(name, weight, rows, cols, config.scheme());
        if (config.lossClip() != null) return lossClip(name, weight, rows, cols, hessian, config, kernels, consume);
        IntegerGrid grid = new IntegerGrid(config.scheme(), config.clip(), config.zeroFloor(), config.staticGroups(), rows, cols);
        Sweep s = solve(name, weight, rows, cols, hessian, config.options(), grid, kernels, consume);
        return new GptqResult(grid.result(name), s.loss(), s.timing());
    }

    /**
     * The {@link LossClip} search: one sweep per shrink factor with every row at that factor, each row keeping the
     * factor of its least sweep loss, then the sweep at the chosen factors (whose rows repeat, bit for bit, the
     * candidate sweeps' rows: rows do not interact once their parameters are fixed).
     */
    private static GptqResult lossClip(String name, float[] weight, int rows, int cols, PackedSymmetric hessian,
                                       GptqConfig config, LinalgKernels kernels, boolean consume) {
        LossClip lc = config.lossClip();
        double[] best = new double[rows];
        Arrays.fill(best, Double.POSITIVE_INFINITY);
        float[] chosen = new float[rows];
        long prepare = 0, inverse = 0, sweep = 0;
        for (int i = 0; i < lc.steps(); i++) {
            float[] p = new float[rows];
            Arrays.fill(p, lc.shrink(i));
            IntegerGrid g = new IntegerGrid(config.scheme(), null, config.zeroFloor(), false, rows, cols).atRowShrink(p);
            Sweep s = solve(name, weight, rows, cols, hessian.copy(), config.options(), g, kernels, false);
            for (int r = 0; r < rows; r++) {
                if (s.rowLoss()[r] < best[r]) {
                    best[r] = s.rowLoss()[r];
                    chosen[r] = p[r];
                }
            }
            prepare += s.timing().prepareNanos();
            inverse += s.timing().inverseNanos();
            sweep += s.timing().sweepNanos();
        }
        IntegerGrid grid = new IntegerGrid(config.scheme(), null, config.zeroFloor(), false, rows, cols).atRowShrink(chosen);
        Sweep s = solve(name, weight, rows, cols, hessian, config.options(), grid, kernels, consume);
        GptqResult.Timing t = s.timing();
        return new GptqResult(grid.result(name), s.loss(), new GptqResult.Timing(prepare + t.prepareNanos(),
                inverse + t.inverseNanos(), sweep + t.sweepNanos()));
    }

    /**
     * What a sweep reports besides what its grid holds.
     *
     * @param loss    Σ over rows and columns of (w − q)² / [H⁻¹]_jj / 2, the reference's {@code Losses} summed
     * @param rowLoss the same per row
     */
    public record Sweep(double loss, double[] rowLoss, GptqResult.Timing timing) {}

    /**
     * The GPTQ sweep onto any {@link Grid}: the grid fits its parameters as the sweep reaches them and records the
     * codes; the caller reads the packed result from the grid afterwards. Neither input array is modified. The
     * weights must be finite (see {@link GroupQuantizer#checkWeights}).
     */
    public static Sweep sweep(String name, float[] weight, int rows, int cols, double[] hessian, GptqConfig.Options options,
                              Grid grid, LinalgKernels kernels) {
        return sweep(name, weight, rows, cols, hessian, options, grid, kernels, false);
    }

    /**
     * {@link #sweep}; {@code consume} is kept for callers that hand over a Hessian they drop afterwards: the sweep
     * works in its own triangle of it, so {@code hessian} is not modified either way.
     */
    public static Sweep sweep(String name, float[] weight, int rows, int cols, double[] hessian, GptqConfig.Options options,
                              Grid grid, LinalgKernels kernels, boolean consume) {
        checkHessian(name, hessian, cols);
        return solve(name, weight, rows, cols, PackedSymmetric.ofUpper(hessian, cols), options, grid, kernels, false);
    }

    /**
     * {@link #sweep} from the Hessian's upper triangle, which it overwrites (with H⁻¹'s factor) instead of copying
     * when {@code consume}; the weights are not modified.
     */
    public static Sweep sweep(String name, float[] weight, int rows, int cols, PackedSymmetric hessian, GptqConfig.Options options,
                              Grid grid, LinalgKernels kernels, boolean consume) {
        checkHessian(name, hessian, cols);
        return solve(name, weight, rows, cols, consume ? hessian : hessian.copy(), options, grid, kernels, false);
    }

    /** {@code hessian} is the sweep's own (checked) triangle; {@code consumeWeights}: the sweep works in {@code weight} itself. */
    private static Sweep solve(String name, float[] weight, int rows, int cols, PackedSymmetric hessian, GptqConfig.Options options,
                               Grid grid, LinalgKernels kernels, boolean consumeWeights) {
        long t0 = System.nanoTime();
        if (weight.length != (long) rows * cols) {
            throw new IllegalArgumentException("lowbit: tensor '" + name + "': " + weight.length + " weights do not form a " + rows + " × " + cols + " matrix");
        }
        float[] w = consumeWeights ? weight : weight.clone();
        PackedSymmetric h = hessian;

        // per channel: the reference finds the row parameters once, from W before dead columns are zeroed
        grid.beforeSweep(w, rows, cols);

        // dead inputs: a column whose input never moved carries no information; fix H and zero the weights
        for (int i = 0; i < cols; i++) {
            if (h.diagonal(i) == 0) {
                h.upper()[h.rowStart(i)] = 1;
                for (int r = 0; r < rows; r++) w[r * cols + i] = 0;
            }
        }

        // static groups: parameters from the original column order, before any error is pushed
        grid.afterDeadColumns(w, rows, cols);

        int[] perm = IntStream.range(0, cols).toArray();
        if (options.actOrder()) {
            double[] diag = new double[cols];
            for (int i = 0; i < cols; i++) diag[i] = h.diagonal(i);
            // descending diag(H); ties keep the lower column first (a stable sort — torch.argsort is not)
            perm = IntStream.range(0, cols).boxed()
                    .sorted(Comparator.comparingDouble((Integer i) -> diag[i]).reversed())
                    .mapToInt(Integer::intValue).toArray();
            w = permuteColumns(w, rows, cols, perm);
            permuteSymmetricInPlace(h, perm);
        }

        double[] hu = h.upper();
        double mean = 0;
        for (int i = 0; i < cols; i++) mean += hu[h.rowStart(i)];
        double damp = options.percDamp() * (mean / cols);
        for (int i = 0; i < cols; i++) hu[h.rowStart(i)] += damp;
        double[] importance = new double[cols];
        for (int j = 0; j < cols; j++) importance[perm[j]] = hu[h.rowStart(j)];
        long t1 = System.nanoTime();

        // h is the sweep's own triangle: factor it in place (at n = 11008, a 7B MLP's width, it is 0.48 GB)
        try {
            Linalg.upperCholeskyOfInversePackedInPlace(kernels, cols, hu);
        } catch (ArithmeticException e) {
            throw new NotPositiveDefiniteException(name, options.percDamp(), e);
        }
        // The sweep reads the factor in f32 (as the reference does on the GPU), one block of rows [i1, i2) at a time:
        // each block's rows are rounded to f32 when the sweep reaches them instead of an n² f32 copy next to h (at
        // n = 11008 that copy was 0.48 GB more on the heap while h is still live). Same values, same bits; the
        // entries left of the diagonal, which U does not have, are zeros.
        long t2 = System.nanoTime();

        // the sweep, in (possibly permuted) column order j; c = perm[j] is the physical column
        SweepState state = new SweepState(rows, cols, w, perm, importance);
        int block = options.blockSize();
        double loss = 0;
        double[] rowLoss = new double[rows];
        float[] hinv = new float[Math.min(block, cols) * cols]; // rows [i1, i2) of the factor, in f32
        for (int i1 = 0; i1 < cols; i1 += block) {
            int i2 = Math.min(i1 + block, cols), count = i2 - i1;
            for (int k = 0; k < count; k++) {
                int row = i1 + k, at = k * cols, from = h.rowStart(row);
                Arrays.fill(hinv, at, at + row, 0f);
                for (int c = row; c < cols; c++) hinv[at + c] = (float) hu[from + c - row];
            }
            float[] w1 = new float[rows * count];
            for (int r = 0; r < rows; r++) System.arraycopy(w, r * cols + i1, w1, r * count, count);
            float[] err1 = new float[rows * count];
            state.batch(i1, i2, w1);
            for (int i = 0; i < count; i++) {
                int j = i1 + i, c = perm[j];
                grid.reach(j, c, state);
                float d = hinv[i * cols + j];
                int hrow = i * cols + i1;
                for (int r = 0; r < rows; r++) {
                    int at = r * count;
                    float x = w1[at + i];
                    float dq = grid.quantize(r, j, c, x);
                    float diff = x - dq;
                    double l = (double) (diff * diff / (d * d)) / 2;
                    loss += l;
                    rowLoss[r] += l;
                    float e = diff / d;
                    err1[at + i] = e;
                    for (int cc = i; cc < count; cc++) w1[at + cc] -= e * hinv[hrow + cc];
                }
            }
            Linalg.gptqBlockUpdate(kernels, w, rows, cols, err1, i1, i2, hinv, 0);
        }
        long t3 = System.nanoTime();
        return new Sweep(loss, rowLoss, new GptqResult.Timing(t1 - t0, t2 - t1, t3 - t2));
    }

    /** What a grid sees of the sweep: W at the batch start, the batch's own up-to-date columns, the importance. */
    private static final class SweepState implements Grid.Sweep {
        private final int rows, cols;
        private final float[] w;
        private final int[] position;
        private final double[] importance;
        private int i1, i2;
        private float[] w1;

        SweepState(int rows, int cols, float[] w, int[] perm, double[] importance) {
            this.rows = rows;
            this.cols = cols;
            this.w = w;
            this.importance = importance;
            this.position = new int[cols];
            for (int j = 0; j < cols; j++) position[perm[j]] = j;
        }

        void batch(int i1, int i2, float[] w1) {
            this.i1 = i1;
            this.i2 = i2;
            this.w1 = w1;
        }

        @Override
        public int rows() {
            return rows;
        }

        @Override
        public int cols() {
            return cols;
        }

        @Override
        public float[] batchStart() {
            return w;
        }

        @Override
        public float current(int r, int c) {
            int j = position[c];
            return j >= i1 && j < i2 ? w1[r * (i2 - i1) + j - i1] : w[r * cols + j];
        }

        @Override
        public double importance(int c) {
            return importance[c];
        }
    }

    private static void checkHessian(String name, double[] h, int cols) {
        if (h.length != (long) cols * cols) {
            throw new IllegalArgumentException("lowbit: GPTQ '" + name + "': Hessian has " + h.length + " entries, expected " + cols + "² = " + (long) cols * cols);
        }
        for (int i = 0; i < h.length; i++) {
            if (!Double.isFinite(h[i])) {
                throw new IllegalArgumentException("lowbit: GPTQ '" + name + "': Hessian [" + i / cols + ", " + i % cols + "] is " + h[i]);
            }
        }
    }

    private static void checkHessian(String name, PackedSymmetric h, int cols) {
        if (h.n() != cols) {
            throw new IllegalArgumentException("lowbit: GPTQ '" + name + "': Hessian is " + h.n() + " × " + h.n() + ", expected " + cols + " × " + cols);
        }
        double[] u = h.upper();
        for (int i = 0, at = 0; i < cols; i++) {
            for (int j = i; j < cols; j++, at++) {
                if (!Double.isFinite(u[at])) throw new IllegalArgumentException("lowbit: GPTQ '" + name + "': Hessian [" + i + ", " + j + "] is " + u[at]);
            }
        }
    }

    private static float[] permuteColumns(float[] w, int rows, int cols, int[] perm) {
        float[] out = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) out[r * cols + j] = w[r * cols + perm[j]];
        }
        return out;
    }

    /**
     * H ← H[perm][:, perm] in the triangle itself: entry (i, j) takes H's (perm[i], perm[j]), read from the triangle
     * at (min, max). That map sends the triangle's entries onto themselves one to one, so it is followed cycle by cycle
     * with one value in hand and a bit per entry for those already placed (n(n+1)/2 bits, 7.6 MB at n = 11008, instead
     * of a second triangle of 0.48 GB).
     */
    static void permuteSymmetricInPlace(PackedSymmetric h, int[] perm) {
        int n = h.n();
        double[] a = h.upper();
        java.util.BitSet placed = new java.util.BitSet(a.length);
        for (int i = 0, at = 0; i < n; i++) {
            for (int j = i; j < n; j++, at++) {
                if (placed.get(at)) continue;
                double first = a[at];
                int ci = i, cj = j, cur = at;
                while (true) {
                    int si = Math.min(perm[ci], perm[cj]), sj = Math.max(perm[ci], perm[cj]);
                    int src = h.rowStart(si) + sj - si;
                    placed.set(cur);
                    if (src == at) {
                        a[cur] = first;
                        break;
                    }
                    a[cur] = a[src];
                    cur = src;
                    ci = si;
                    cj = sj;
                }
            }
        }
    }
}
