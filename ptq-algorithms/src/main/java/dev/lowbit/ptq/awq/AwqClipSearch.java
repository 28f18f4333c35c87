package dev.lowbit.ptq.awq;

/**
 * AWQ's clip search (llm-awq {@code auto_clip.py}, AutoAWQ {@code _compute_best_clip}) for one (already scaled)
 * Linear W {@code [rows, cols]}: per output row r and quantization group g, try the thresholds
 * m_k = max|W_r,g| · (1 − k/n), k = 0 … ⌊n·shrink⌋ − 1 (n = 20, shrink 0.5: 10 candidates), clamp the group to
 * [−m_k, m_k], quantize it, and keep the m with the least output error over the sampled tokens
 * <pre>
 *   err(m) = Σ_t ( Σ_{j∈g} x_tj · (Q(clamp(w))_j − w_j) )²  =  δᵀ H_g δ,   H_g = Σ_t x_t,g x_t,gᵀ
 * </pre>
 * (the references average over tokens, which does not change the argmin). The clamped weights replace W.
 * q_proj and k_proj are left alone by the references (their products make clipping unreliable): the caller decides.
 */
public final class AwqClipSearch {
    /** Quantizes one group's values (a row slice) in place to their dequantized images under the target grid. */
    @FunctionalInterface
    public interface GroupRounding {
        void apply(float[] values, int from, int to);
    }

    /**
     * @param n      grid resolution (20)
     * @param shrink the largest fraction clipped away (0.5)
     */
    public record Config(int n, double shrink) {
        public Config {
            if (n < 1 || !(shrink > 0 && shrink <= 1)) throw new IllegalArgumentException("clip grid " + n + ", shrink " + shrink);
        }

        public static Config defaults() {
            return new Config(20, 0.5);
        }
    }

    /** Per row and group the chosen threshold as a fraction of the group's max |w| (1 = no clipping). */
    public record Result(float[] clipped, float[] ratios, int clippedGroups) {}

    private AwqClipSearch() {}

    /**
     * @param x      the sampled inputs {@code [tokens, cols]} row-major (the scaled inputs the Linear really reads)
     * @param group  group size (−1 = whole row)
     */
    public static Result search(float[] w, int rows, int cols, int group, float[] x, int tokens, Config config,
                                GroupRounding rounding) {
        if (w.length != (long) rows * cols || x.length != (long) tokens * cols) throw new IllegalArgumentException("clip search: shapes");
        int g = group <= 0 ? cols : group;
        return search(w, rows, cols, g, (from, to) -> gram(x, tokens, cols, from, to), config, rounding);
    }

    /**
     * The search with the input's Gram matrix {@code H = Σ_t x_t x_tᵀ} ({@code cols × cols}, row-major f64) instead of
     * token samples: each group uses its diagonal block, so every calibration token counts.
     */
    public static Result search(float[] w, int rows, int cols, int group, double[] hessian, Config config, GroupRounding rounding) {
        if (w.length != (long) rows * cols || hessian.length != (long) cols * cols) throw new IllegalArgumentException("clip search: shapes");
        int g = group <= 0 ? cols : group;
        return search(w, rows, cols, g, (from, to) -> {
            int len = to - from;
            double[] h = new double[len * len];
            for (int i = 0; i < len; i++) System.arraycopy(hessian, (from + i) * cols + from, h, i * len, len);
            return h;
        }, config, rounding);
    }

    /**
     * The search with only the diagonal group blocks of H ({@code dev.lowbit.ptq.observe.GroupGramObserver}'s layout:
     * block b, len_b × len_b row-major, at b·group²), which is all it reads of H: the same result as {@link
     * #search(float[], int, int, int, double[], Config, GroupRounding)} given an H with those blocks.
     */
    public static Result searchBlocks(float[] w, int rows, int cols, int group, double[] blocks, Config config, GroupRounding rounding) {
        int g = group <= 0 || group > cols ? cols : group;
        long size = (long) (cols / g) * g * g + (long) (cols % g) * (cols % g);
        if (w.length != (long) rows * cols || blocks.length != size) throw new IllegalArgumentException("clip search: shapes");
        return search(w, rows, cols, g, (from, to) -> {
            int len = to - from;
            int at = Math.toIntExact((long) (from / g) * g * g);
            return java.util.Arrays.copyOfRange(blocks, at, at + len * len);
        }, config, rounding);
    }

    private interface GroupGram {
        double[] of(int from, int to);
    }

    private static Result search(float[] w, int rows, int cols, int g, GroupGram grams, Config config, GroupRounding rounding) {
        int groups = Math.ceilDiv(cols, g);
        int steps = (int) Math.floor(config.n() * config.shrink());
        float[] out = w.clone();
        float[] ratios = new float[rows * groups];
        int clippedGroups = 0;
        float[] trial = new float[g];
        float[] delta = new float[g];
        for (int gi = 0; gi < groups; gi++) {
            int from = gi * g, to = Math.min(cols, from + g), len = to - from;
            double[] h = grams.of(from, to);
            for (int r = 0; r < rows; r++) {
                int base = r * cols + from;
                float max = 0;
                for (int c = 0; c < len; c++) max = Math.max(max, Math.abs(w[base + c]));
                double best = Double.POSITIVE_INFINITY;
                float bestM = max;
                for (int k = 0; k < Math.max(1, steps); k++) {
                    float m = (float) (max * (1 - (double) k / config.n()));
                    for (int c = 0; c < len; c++) trial[c] = Math.max(-m, Math.min(m, w[base + c]));
                    rounding.apply(trial, 0, len);
                    for (int c = 0; c < len; c++) delta[c] = trial[c] - w[base + c];
                    double err = quadratic(h, delta, len);
                    if (err < best) {
                        best = err;
                        bestM = m;
                    }
                }
                ratios[r * groups + gi] = max == 0 ? 1f : bestM / max;
                if (bestM < max) {
                    clippedGroups++;
                    for (int c = 0; c < len; c++) out[base + c] = Math.max(-bestM, Math.min(bestM, w[base + c]));
                }
            }
        }
        return new Result(out, ratios, clippedGroups);
    }

    /** H = Σ_t x_t,[from,to) x_t,[from,to)ᵀ in f64, {@code len × len}. */
    static double[] gram(float[] x, int tokens, int cols, int from, int to) {
        int len = to - from;
        double[] h = new double[len * len];
        for (int t = 0; t < tokens; t++) {
            int base = t * cols + from;
            for (int i = 0; i < len; i++) {
                double xi = x[base + i];
                if (xi == 0) continue;
                int row = i * len;
                for (int j = i; j < len; j++) h[row + j] += xi * x[base + j];
            }
        }
        for (int i = 0; i < len; i++) for (int j = 0; j < i; j++) h[i * len + j] = h[j * len + i];
        return h;
    }

    static double quadratic(double[] h, float[] d, int len) {
        double sum = 0;
        for (int i = 0; i < len; i++) {
            double di = d[i];
            if (di == 0) continue;
            double acc = 0;
            int row = i * len;
            for (int j = 0; j < len; j++) acc += h[row + j] * d[j];
            sum += di * acc;
        }
        return sum;
    }
}
