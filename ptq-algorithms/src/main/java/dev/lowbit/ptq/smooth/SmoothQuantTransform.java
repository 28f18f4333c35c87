package dev.lowbit.ptq.smooth;

import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.quant.ActivationScheme;
import dev.lowbit.ptq.awq.AwqScaleSearch;
import dev.lowbit.ptq.transform.LayerContext;
import dev.lowbit.ptq.transform.LayerLoss;
import dev.lowbit.ptq.transform.Statistic;
import dev.lowbit.ptq.transform.WeightTransform;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * SmoothQuant as a recipe step: for the balance mappings it is given (SmoothQuant's own: the two norms; optionally
 * up_proj → down_proj and v_proj → o_proj where the shapes allow), s = max|x|^α / max|W|^(1−α) from the calibration
 * max |x| of the input, folded into the producer and the balanced Linears ({@link SmoothQuant}, {@link Balances}).
 *
 * <p>α is one number for every mapping, or searched per mapping and layer ({@link Search}): each grid point's s is
 * scored by the mean squared error of the mapping's block output (q,k,v: the attention block; gate,up: the MLP; down:
 * down_proj alone) against the fp block, with the mapping's Linears fake-quantized onto their planned grid
 * (W' = Q(W·diag(s))·diag(s)⁻¹) and their shared input quantized under the target activation scheme
 * ({@link LayerLoss.InputQuantization}: Q_a(x ÷ s)·s; a static per-tensor scale from max_j max|x_j| / s_j over the
 * calibration tokens), on {@code lossTokens} calibration tokens; the best α's s is folded.
 */
public final class SmoothQuantTransform implements WeightTransform {
    /**
     * @param grid        the α points, each in (0, 1)
     * @param activations the activation scheme the loss quantizes the mapping's input with
     * @param lossTokens  calibration tokens (whole windows, evenly spaced) the loss runs on; 0 = all
     */
    public record Search(double[] grid, ActivationScheme activations, int lossTokens) {
        public Search {
            if (grid.length == 0) throw new IllegalArgumentException("SmoothQuant alpha grid is empty");
            for (double a : grid) if (!(a > 0 && a < 1)) throw new IllegalArgumentException("SmoothQuant alpha must lie in (0, 1), got " + a);
            java.util.Objects.requireNonNull(activations, "activations");
        }
    }

    private final double alpha;
    private final Search search;
    private final Set<TensorRole> producers;
    private final Consumer<String> notices;
    private final Map<String, SmoothQuant.Choice> choices = new LinkedHashMap<>();

    /**
     * @param producers the mappings to smooth, by producer: {@code INPUT_NORM}, {@code POST_ATTENTION_NORM}, {@code UP},
     *                  {@code V}
     */
    public SmoothQuantTransform(double alpha, Set<TensorRole> producers, Consumer<String> notices) {
        if (!(alpha > 0 && alpha < 1)) throw new IllegalArgumentException("SmoothQuant alpha must lie in (0, 1), got " + alpha);
        this.alpha = alpha;
        this.search = null;
        this.producers = Set.copyOf(producers);
        this.notices = notices;
    }

    /** α searched per mapping and layer on {@code search}'s grid. */
    public SmoothQuantTransform(Search search, Set<TensorRole> producers, Consumer<String> notices) {
        this.alpha = Double.NaN;
        this.search = java.util.Objects.requireNonNull(search, "search");
        this.producers = Set.copyOf(producers);
        this.notices = notices;
    }

    @Override
    public String name() {
        return "smooth";
    }

    @Override
    public Set<Statistic> statistics() {
        return Set.of(Statistic.MAX_ABS);
    }

    @Override
    public boolean usesLoss() {
        return search != null;
    }

    @Override
    public int lossTokens() {
        return search == null ? 0 : search.lossTokens();
    }

    /** The searched α per mapping ({@code model.layers.N.producer -> Linears}) with its grid losses; empty at a fixed α. */
    public Map<String, SmoothQuant.Choice> choices() {
        return java.util.Collections.unmodifiableMap(choices);
    }

    @Override
    public Map<String, Double> chosen() {
        Map<String, Double> m = new LinkedHashMap<>();
        choices.forEach((k, c) -> m.put(k, c.alpha()));
        return m;
    }

    @Override
    public void transformLayer(LayerContext ctx) {
        List<String> report = new ArrayList<>();
        for (ModelArchitecture.Balance b : ctx.architecture().balances()) {
            if (!producers.contains(b.from())) continue;
            String skip = Balances.skipReason(ctx, b);
            if (skip != null) {
                if (ctx.layer() == 0) notices.accept("smooth: skipped " + Balances.label(ctx, b) + ": " + skip);
                continue;
            }
            List<AwqScaleSearch.Balanced> linears = Balances.balanced(ctx, b);
            List<float[]> weights = linears.stream().map(AwqScaleSearch.Balanced::weight).toList();
            double[] max = ctx.statistics(b.to().getFirst()).maxAbs();
            float[] act = new float[max.length];
            for (int i = 0; i < max.length; i++) act[i] = (float) max[i];
            float[] s;
            if (search == null) {
                s = SmoothQuant.scales(act, weights, alpha);
            } else {
                SmoothQuant.Choice c = SmoothQuant.search(act, weights, search.grid(), cand -> loss(ctx, b, linears, act, cand));
                choices.put(Balances.label(ctx, b), c);
                report.add(String.join(",", b.to().stream().map(r -> r.name().toLowerCase(Locale.ROOT)).toList())
                        + String.format(Locale.ROOT, " α=%.2f", c.alpha()));
                s = c.scales();
            }
            Balances.fold(ctx, ctx.tensors(), b, s);
        }
        if (!report.isEmpty()) notices.accept("smooth: layer " + ctx.layer() + ": " + String.join("; ", report));
    }

    /** The block loss of candidate s: the mapping's Linears fake-quantized after the fold, their input quantized. */
    private double loss(LayerContext ctx, ModelArchitecture.Balance b, List<AwqScaleSearch.Balanced> linears, float[] act, float[] s) {
        Map<TensorRole, float[]> candidate = new EnumMap<>(TensorRole.class);
        for (int i = 0; i < linears.size(); i++) {
            AwqScaleSearch.Balanced l = linears.get(i);
            float[] w = l.weight().clone();
            ScaleFold.multiplyColumns(w, l.rows(), l.cols(), s);
            float[] q = ctx.loss().fakeQuantize(b.to().get(i), w); // a new array, or w itself
            ScaleFold.divideColumns(q, l.rows(), l.cols(), s);
            candidate.put(b.to().get(i), q);
        }
        double absMax = 0;
        for (int j = 0; j < act.length; j++) absMax = Math.max(absMax, act[j] / s[j]);
        LayerLoss.InputQuantization input = new LayerLoss.InputQuantization(b.to().getFirst(), s, search.activations(),
                search.activations().dynamic() ? 0 : absMax);
        return ctx.loss().blockLoss(block(b), candidate, input);
    }

    /** The sub-block a mapping is scored on: q,k,v (and v→o) the attention block, gate,up the MLP, down alone. */
    static LayerLoss.Block block(ModelArchitecture.Balance b) {
        if (b.to().equals(List.of(TensorRole.DOWN))) return LayerLoss.Block.DOWN;
        for (TensorRole r : b.to()) if (r == TensorRole.GATE || r == TensorRole.UP) return LayerLoss.Block.MLP;
        return LayerLoss.Block.ATTENTION;
    }
}
