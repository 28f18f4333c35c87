package dev.lowbit.ptq.awq;

import java.util.ArrayList;
import java.util.List;

/**
 * AWQ's activation-aware scale search (Lin et al. 2024; mit-han-lab/llm-awq {@code auto_scale.py}, AutoAWQ
 * {@code quantizer.py}) for one balance mapping: a producer feeding Linears W_i over the same input channels.
 * <pre>
 *   x̄_j = mean_t |X_tj|                                   (statistics of the shared input)
 *   w̄_j = mean over rows r of all W_i of |W_rj| / max_{k ∈ group(j)} |W_rk|   ("duo" only)
 *   for α = 0, 1/n, …, (n−1)/n:
 *       s = x̄^α            (x-only)   or   s = x̄^α / (w̄^(1−α) + 1e-4)   (duo, AutoAWQ's default)
 *       s ← max(s, 1e-4);  s ← s / √(max s · min s);  non-finite → 1
 *       W_i' = Q(W_i · diag(s)) · diag(s)⁻¹   for every balanced Linear
 *       L(α) = loss(W_1' … W_m')            (the caller runs the block: MSE against the fp output)
 *   keep argmin; the identity s = 1 is scored too, so the result is never worse than no scaling on the sample
 * </pre>
 * Pure arithmetic: the caller supplies the statistics, the quantizer and the loss.
 */
public final class AwqScaleSearch {
    /** Scores the candidate (fake-quantized) weights of the balanced Linears, in their order: lower is better. */
    @FunctionalInterface
    public interface Loss {
        double loss(List<float[]> candidateWeights);
    }

    /** One balanced Linear: its weight {@code [rows, cols]} (cols = the shared input channels). */
    public record Balanced(String name, float[] weight, int rows, int cols) {
        public Balanced {
            if (weight.length != (long) rows * cols) throw new IllegalArgumentException(name + ": weight is not " + rows + "×" + cols);
        }
    }

    /**
     * @param grid      number of α points (20: α = i/20, i = 0..19, as llm-awq and AutoAWQ)
     * @param duo       AutoAWQ's weight-normalised formula instead of x̄^α alone
     * @param groupSize the quantization group for w̄ (−1 = whole row)
     */
    public record Config(int grid, boolean duo, int groupSize) {
        public Config {
            if (grid < 1) throw new IllegalArgumentException("AWQ grid needs at least one point, got " + grid);
        }
    }

    /**
     * @param alpha    the chosen α (NaN when the identity won)
     * @param scales   the chosen s (all 1 when the identity won)
     * @param losses   loss per α in grid order; {@code identityLoss} is the loss with s = 1
     */
    public record Result(double alpha, float[] scales, double[] losses, double identityLoss) {}

    private AwqScaleSearch() {}

    /** Scores a candidate scale vector s (the caller folds it and runs the block with quantized weights): lower is better. */
    @FunctionalInterface
    public interface ScaleLoss {
        double loss(float[] s);
    }

    /** The search with the balanced Linears fake-quantized here ({@link #candidates}) and scored by {@code loss}. */
    public static Result search(float[] xMean, List<Balanced> linears, Config config, FakeQuantizer q, Loss loss) {
        return search(xMean, linears, config, s -> loss.loss(candidates(linears, s, q)));
    }

    /** The search scored by a loss of the scales themselves (the pipeline's block loss with fake quantization). */
    public static Result search(float[] xMean, List<Balanced> linears, Config config, ScaleLoss loss) {
        int cols = xMean.length;
        for (Balanced b : linears) {
            if (b.cols() != cols) throw new IllegalArgumentException(b.name() + ": " + b.cols() + " inputs, statistics of " + cols);
        }
        float[] wMean = config.duo() ? weightMean(linears, config.groupSize()) : null;
        float[] ones = new float[cols];
        java.util.Arrays.fill(ones, 1f);
        double identity = loss.loss(ones);
        double best = identity;
        double bestAlpha = Double.NaN;
        float[] bestScales = ones;
        double[] losses = new double[config.grid()];
        for (int i = 0; i < config.grid(); i++) {
            double alpha = (double) i / config.grid();
            float[] s = scales(xMean, wMean, alpha);
            double l = loss.loss(s);
            losses[i] = l;
            if (l < best) { // strictly better: ties keep the earlier (smaller α, or the identity)
                best = l;
                bestAlpha = alpha;
                bestScales = s;
            }
        }
        return new Result(bestAlpha, bestScales, losses, identity);
    }

    /** s for one α: x̄^α or the duo formula, clamped, normalised by √(max·min), non-finite entries set to 1. */
    public static float[] scales(float[] xMean, float[] wMean, double alpha) {
        int n = xMean.length;
        float[] s = new float[n];
        double max = Double.NEGATIVE_INFINITY, min = Double.POSITIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            double v = Math.pow(xMean[j], alpha);
            if (wMean != null) v /= Math.pow(wMean[j], 1 - alpha) + 1e-4;
            v = Math.max(v, 1e-4);
            s[j] = (float) v;
            if (Float.isFinite(s[j])) {
                max = Math.max(max, s[j]);
                min = Math.min(min, s[j]);
            }
        }
        double norm = Math.sqrt(max * min);
        for (int j = 0; j < n; j++) {
            float v = (float) (s[j] / norm);
            s[j] = Float.isFinite(v) ? v : 1f;
        }
        return s;
    }

    /** w̄_j: mean over the rows of every balanced Linear of |W_rj| / max|W_r,group(j)| (+1e-6 in the max), in f64. */
    public static float[] weightMean(List<Balanced> linears, int groupSize) {
        int cols = linears.getFirst().cols();
        int g = groupSize <= 0 ? cols : groupSize;
        double[] sum = new double[cols];
        long rowsTotal = 0;
        for (Balanced b : linears) {
            float[] w = b.weight();
            for (int r = 0; r < b.rows(); r++) {
                int base = r * cols;
                for (int from = 0; from < cols; from += g) {
                    int to = Math.min(cols, from + g);
                    float m = 0;
                    for (int c = from; c < to; c++) m = Math.max(m, Math.abs(w[base + c]));
                    double inv = 1.0 / (m + 1e-6);
                    for (int c = from; c < to; c++) sum[c] += Math.abs(w[base + c]) * inv;
                }
            }
            rowsTotal += b.rows();
        }
        float[] out = new float[cols];
        for (int c = 0; c < cols; c++) out[c] = (float) (sum[c] / rowsTotal);
        return out;
    }

    /** Q(W·diag(s))·diag(s)⁻¹ for every balanced Linear (new arrays; the originals are untouched). */
    public static List<float[]> candidates(List<Balanced> linears, float[] s, FakeQuantizer q) {
        List<float[]> out = new ArrayList<>(linears.size());
        for (Balanced b : linears) {
            float[] w = b.weight().clone();
            dev.lowbit.ptq.smooth.ScaleFold.multiplyColumns(w, b.rows(), b.cols(), s);
            float[] d = q.apply(w, b.rows(), b.cols());
            dev.lowbit.ptq.smooth.ScaleFold.divideColumns(d, b.rows(), b.cols(), s);
            out.add(d);
        }
        return out;
    }
}
