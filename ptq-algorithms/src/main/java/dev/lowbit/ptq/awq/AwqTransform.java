package dev.lowbit.ptq.awq;

import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.kernels.NativeHeap;
import dev.lowbit.ptq.observe.GroupGramObserver;
import dev.lowbit.ptq.scheme.GroupQuantizer;
import dev.lowbit.ptq.smooth.Balances;
import dev.lowbit.ptq.smooth.ScaleFold;
import dev.lowbit.ptq.transform.ChannelStatistics;
import dev.lowbit.ptq.transform.LayerContext;
import dev.lowbit.ptq.transform.LayerLoss;
import dev.lowbit.ptq.transform.Statistic;
import dev.lowbit.ptq.transform.TensorSet;
import dev.lowbit.ptq.transform.WeightTransform;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * AWQ as a recipe step: per balance mapping of the architecture table (input_layernorm → q,k,v; v → o when the
 * shapes allow; post_attention_layernorm → gate,up; up → down), the scale search of {@link AwqScaleSearch} scored as
 * AutoAWQ scores it: only the mapping's Linears are fake-quantized (onto the quantizer's own grid for each module,
 * W' = Q(W·diag(s))·diag(s)⁻¹), and only the sub-block they sit in runs ({@link LayerLoss.Block}: q,k,v and v→o on the
 * attention block's output, gate,up on the MLP's output, down on its own output), on a sample of the calibration
 * windows ({@code lossTokens}); the best s is folded into the producer and the balanced Linears; then {@link AwqClipSearch} on every Linear but q and k, with the Gram matrix
 * Σ x·xᵀ of the input it now reads (the measured one, rescaled by the folds: H' = diag(1/s)·H·diag(1/s)), of which
 * the search reads only each group's diagonal block: only those are accumulated ({@link Statistic#GROUP_GRAM}).
 */
public final class AwqTransform implements WeightTransform {
    /**
     * @param scale      run the scale search
     * @param clip       run the clip search (its grid: {@code clipScheme}, the quantizer's scheme)
     * @param grid       α points
     * @param duo        AutoAWQ's weight-normalised scales
     * @param clipScheme the grid the clip search rounds onto
     * @param lossTokens calibration tokens the scale search's loss samples (whole windows; 0 = every window)
     * @param clipTokens calibration tokens the clip search's Gram matrices are accumulated over (0 = all)
     * @param fpInputs   calibrate the next layer on this layer's fp outputs (llm-awq, AutoAWQ) when the quantizer
     *                   observes nothing ({@link WeightTransform#fullPrecisionInputs()})
     */
    public record Config(boolean scale, boolean clip, int grid, boolean duo, QuantScheme clipScheme, int lossTokens,
                         int clipTokens, boolean fpInputs) {}

    private final Config config;
    private final Consumer<String> notices;
    private final Map<String, Double> alphas = new java.util.LinkedHashMap<>();

    public AwqTransform(Config config, Consumer<String> notices) {
        this.config = config;
        this.notices = notices;
    }

    @Override
    public String name() {
        return "awq";
    }

    @Override
    public Set<Statistic> statistics() {
        Set<Statistic> s = EnumSet.of(Statistic.MEAN_ABS);
        if (config.clip()) s.add(Statistic.GROUP_GRAM);
        return s;
    }

    /** The clip search reads only each group's diagonal block of Σ x·xᵀ. */
    @Override
    public int gramGroup() {
        return config.clipScheme().groupSize();
    }

    @Override
    public boolean usesLoss() {
        return config.scale();
    }

    @Override
    public int lossTokens() {
        return config.lossTokens();
    }

    @Override
    public int hessianTokens() {
        return config.clipTokens();
    }

    @Override
    public boolean fullPrecisionInputs() {
        return config.fpInputs();
    }

    /** The sub-block a mapping's Linears are scored on: their own attention or MLP block, down_proj alone. */
    static LayerLoss.Block block(ModelArchitecture.Balance b) {
        if (b.to().equals(List.of(TensorRole.DOWN))) return LayerLoss.Block.DOWN;
        for (TensorRole r : b.to()) {
            if (r == TensorRole.GATE || r == TensorRole.UP || r == TensorRole.DOWN) return LayerLoss.Block.MLP;
        }
        return LayerLoss.Block.ATTENTION;
    }

    /** The chosen α per mapping ({@code producer -> first Linear}), NaN where the identity won. */
    public Map<String, Double> alphas() {
        return java.util.Collections.unmodifiableMap(alphas);
    }

    @Override
    public Map<String, Double> chosen() {
        Map<String, Double> m = new java.util.LinkedHashMap<>();
        alphas.forEach((k, a) -> m.put(k, Double.isNaN(a) ? null : a));
        return m;
    }

    @Override
    public void transformLayer(LayerContext ctx) {
        TensorSet t = ctx.tensors();
        // per input channel the scale folded into each Linear input so far (the clip search rescales H by it)
        Map<TensorRole, float[]> folded = new EnumMap<>(TensorRole.class);
        long start = System.nanoTime();
        List<String> report = new ArrayList<>();
        if (config.scale()) {
            for (ModelArchitecture.Balance b : ctx.architecture().balances()) {
                String skip = Balances.skipReason(ctx, b);
                if (skip != null) {
                    if (ctx.layer() == 0) notices.accept("awq: skipped " + Balances.label(ctx, b) + ": " + skip);
                    continue;
                }
                List<AwqScaleSearch.Balanced> linears = Balances.balanced(ctx, b);
                float[] xMean = toFloat(ctx.statistics(b.to().getFirst()).meanAbs());
                LayerLoss.Block block = block(b);
                AwqScaleSearch.Result r = AwqScaleSearch.search(xMean, linears,
                        new AwqScaleSearch.Config(config.grid(), config.duo(), config.clipScheme().groupSize()),
                        // one candidate Linear at a time on the heap: each is made when the loss takes it
                        s -> ctx.loss().blockLoss(block, b.to(), role -> {
                            AwqScaleSearch.Balanced l = linears.get(b.to().indexOf(role));
                            float[] w = l.weight().clone();
                            ScaleFold.multiplyColumns(w, l.rows(), l.cols(), s);
                            float[] q = ctx.loss().fakeQuantizeInPlace(role, w); // w itself, or a new array
                            ScaleFold.divideColumns(q, l.rows(), l.cols(), s);
                            return q;
                        }));
                alphas.put(Balances.label(ctx, b), r.alpha());
                report.add(String.join(",", b.to().stream().map(x -> x.name().toLowerCase(java.util.Locale.ROOT)).toList())
                        + (Double.isNaN(r.alpha()) ? " identity" : String.format(java.util.Locale.ROOT, " α=%.2f", r.alpha()))
                        + String.format(java.util.Locale.ROOT, " %.1f s", (System.nanoTime() - start) / 1e9));
                NativeHeap.trim(); // the candidates' runs freed their activations in the C heap
                start = System.nanoTime();
                if (Double.isNaN(r.alpha())) continue;
                Balances.fold(ctx, t, b, r.scales());
                for (TensorRole to : b.to()) folded.put(to, r.scales());
            }
        }
        if (config.clip()) {
            clip(ctx, t, folded);
            report.add(String.format(java.util.Locale.ROOT, "clip %.1f s", (System.nanoTime() - start) / 1e9));
        }
        notices.accept("awq: layer " + ctx.layer() + ": " + String.join("; ", report));
    }

    private void clip(LayerContext ctx, TensorSet t, Map<TensorRole, float[]> folded) {
        QuantScheme scheme = config.clipScheme();
        int maxq = scheme.maxq();
        AwqClipSearch.GroupRounding rounding = (v, from, to) -> {
            float[] sc = new float[1], z = new float[1];
            GroupQuantizer.findParams(v, to, 1, from, to, scheme, null, sc, z);
            for (int c = from; c < to; c++) v[c] = GroupQuantizer.dequantize(GroupQuantizer.quantize(v[c], sc[0], z[0], maxq), sc[0], z[0]);
        };
        for (TensorRole l : ctx.architecture().linears()) {
            if (l == TensorRole.Q || l == TensorRole.K || !ctx.selected(l)) continue;
            String name = ctx.name(l, false);
            long[] shape = t.shape(name);
            int rows = (int) shape[0], cols = (int) shape[1];
            ChannelStatistics st = ctx.statistics(l);
            double[] h = st.groupGram().clone();
            int g = scheme.groupSize() <= 0 || scheme.groupSize() > cols ? cols : scheme.groupSize();
            float[] s = folded.get(l);
            if (s != null) {
                for (int from = 0, b = 0; from < cols; from += g, b++) {
                    int len = Math.min(g, cols - from), at = GroupGramObserver.offset(g, b);
                    for (int i = 0; i < len; i++) {
                        for (int j = 0; j < len; j++) h[at + i * len + j] /= (double) s[from + i] * s[from + j];
                    }
                }
            }
            AwqClipSearch.Result r = AwqClipSearch.searchBlocks(t.read(name), rows, cols, g, h,
                    AwqClipSearch.Config.defaults(), rounding);
            if (r.clippedGroups() > 0) System.arraycopy(r.clipped(), 0, t.edit(name), 0, r.clipped().length);
        }
    }

    static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }
}
