package dev.lowbit.ptq.smooth;

import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.ptq.awq.AwqScaleSearch;
import dev.lowbit.ptq.transform.LayerContext;
import dev.lowbit.ptq.transform.Statistic;
import dev.lowbit.ptq.transform.WeightTransform;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * SmoothQuant as a recipe step: for the balance mappings it is given (SmoothQuant's own: the two norms; optionally
 * up_proj → down_proj and v_proj → o_proj where the shapes allow), s = max|x|^α / max|W|^(1−α) from the calibration
 * max |x| of the input, folded into the producer and the balanced Linears ({@link SmoothQuant}, {@link Balances}).
 */
public final class SmoothQuantTransform implements WeightTransform {
    private final double alpha;
    private final Set<TensorRole> producers;
    private final Consumer<String> notices;

    /**
     * @param producers the mappings to smooth, by producer: {@code INPUT_NORM}, {@code POST_ATTENTION_NORM}, {@code UP},
     *                  {@code V}
     */
    public SmoothQuantTransform(double alpha, Set<TensorRole> producers, Consumer<String> notices) {
        if (!(alpha > 0 && alpha < 1)) throw new IllegalArgumentException("SmoothQuant alpha must lie in (0, 1), got " + alpha);
        this.alpha = alpha;
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
    public void transformLayer(LayerContext ctx) {
        for (ModelArchitecture.Balance b : ctx.architecture().balances()) {
            if (!producers.contains(b.from())) continue;
            String skip = Balances.skipReason(ctx, b);
            if (skip != null) {
                if (ctx.layer() == 0) notices.accept("smooth: skipped " + Balances.label(ctx, b) + ": " + skip);
                continue;
            }
            List<float[]> weights = Balances.balanced(ctx, b).stream().map(AwqScaleSearch.Balanced::weight).toList();
            double[] max = ctx.statistics(b.to().getFirst()).maxAbs();
            float[] act = new float[max.length];
            for (int i = 0; i < max.length; i++) act[i] = (float) max[i];
            Balances.fold(ctx, ctx.tensors(), b, SmoothQuant.scales(act, weights, alpha));
        }
    }
}
