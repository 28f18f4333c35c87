package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.ptq.smooth.SmoothQuantTransform;
import dev.lowbit.ptq.transform.WeightTransform;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * {@code smooth}: SmoothQuant's migration s = max|x|^α / max|W|^(1−α), folded into input_layernorm (q,k,v) and
 * post_attention_layernorm (gate,up), and with {@code down_proj: true} also into up_proj's rows (down_proj's input).
 */
final class SmoothStep extends BalanceStep {
    static final List<Param> PARAMS = List.of(
            Param.ofNumber("alpha", 0.5, "migration strength, in (0, 1)"),
            Param.ofBool("down_proj", false, "also smooth down_proj's input into up_proj's rows"));

    SmoothStep() {
        super("smooth", "SmoothQuant migration into the norms, needs calibration, before a W8A8 quantizer", PARAMS);
    }

    @Override
    Supplier<WeightTransform> transform(String source, String where, ObjectNode p) {
        double alpha = p.get("alpha").doubleValue();
        if (!(alpha > 0 && alpha < 1)) throw new BadInputException(source, where + ": alpha must lie strictly between 0 and 1, got " + alpha);
        Set<TensorRole> producers = EnumSet.of(TensorRole.INPUT_NORM, TensorRole.POST_ATTENTION_NORM);
        if (p.get("down_proj").booleanValue()) producers.add(TensorRole.UP);
        return () -> new SmoothQuantTransform(alpha, producers, BalanceStep::notice);
    }
}
