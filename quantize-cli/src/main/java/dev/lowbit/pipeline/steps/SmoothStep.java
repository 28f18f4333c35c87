package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.quant.ActivationScheme;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.ptq.smooth.SmoothQuant;
import dev.lowbit.ptq.smooth.SmoothQuantTransform;
import dev.lowbit.ptq.transform.WeightTransform;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * {@code smooth}: SmoothQuant's migration s = max|x|^α / max|W|^(1−α), folded into input_layernorm (q,k,v) and
 * post_attention_layernorm (gate,up), and with {@code down_proj: true} also into up_proj's rows (down_proj's input).
 * {@code alpha: search} picks α per mapping and layer on 0.05 … 0.95 ({@code grid} points) by the block-output error with the mapping's
 * weights and input quantized ({@link SmoothQuantTransform.Search}); the input's scheme is the one the output declares
 * ({@code input_activations}, W8A8) or {@code activations} (a weight-only output evaluated with activations quantized
 * at run time, e.g. W4A8: {@code int8-token}).
 */
final class SmoothStep extends BalanceStep {
    static final String SEARCH = "search";
    static final List<Param> PARAMS = List.of(
            Param.ofNumberOrString("alpha", 0.5, "migration strength, in (0, 1), or 'search' (per mapping and layer, block-output MSE)"),
            Param.ofBool("down_proj", false, "also smooth down_proj's input into up_proj's rows"),
            Param.ofString("activations", "", "alpha search: the activation scheme its loss quantizes inputs with (int8-token, int8-tensor …; default: the output's input_activations)"),
            Param.ofInt("loss_tokens", 4096, "alpha search: calibration tokens (whole windows, evenly spaced) it scores on; 0 = all"),
            Param.ofInt("grid", 19, "alpha search: alpha = i/(grid+1), i = 1..grid (19: 0.05, 0.10 .. 0.95)"));

    SmoothStep() {
        super("smooth", "SmoothQuant migration into the norms, needs calibration, before a W8A8 quantizer", PARAMS);
    }

    @Override
    Supplier<WeightTransform> transform(String source, String where, ObjectNode p, ObjectNode given, Output output) {
        Set<TensorRole> producers = EnumSet.of(TensorRole.INPUT_NORM, TensorRole.POST_ATTENTION_NORM);
        if (p.get("down_proj").booleanValue()) producers.add(TensorRole.UP);
        JsonNode a = p.get("alpha");
        if (a.isTextual()) {
            if (!SEARCH.equals(a.textValue())) {
                throw new BadInputException(source, where + ": alpha must be a number in (0, 1) or 'search', got '" + a.textValue() + "'");
            }
            SmoothQuantTransform.Search search = search(source, where, p, output);
            return () -> new SmoothQuantTransform(search, producers, BalanceStep::notice);
        }
        for (String n : List.of("activations", "loss_tokens", "grid")) {
            if (given.has(n)) throw new BadInputException(source, where + ": '" + n + "' applies to alpha: search only (alpha is " + a + ")");
            p.remove(n); // not recorded for a fixed α, so that the written recipe replays
        }
        double alpha = a.doubleValue();
        if (!(alpha > 0 && alpha < 1)) throw new BadInputException(source, where + ": alpha must lie strictly between 0 and 1, got " + alpha);
        return () -> new SmoothQuantTransform(alpha, producers, BalanceStep::notice);
    }

    /** The α search's settings; the activation scheme resolved against the output's (recorded in {@code p}). */
    private static SmoothQuantTransform.Search search(String source, String where, ObjectNode p, Output output) {
        String declared = output.inputActivations();
        String asked = p.get("activations").textValue();
        String name = asked.isEmpty() ? declared : asked;
        if (name == null) {
            throw new BadInputException(source, where + ": alpha: search scores each α with the activations quantized; the output "
                    + "declares none, so give activations (e.g. int8-token for W4A8 evaluated with --activations int8-token)");
        }
        if (declared != null && !declared.equals(name)) {
            throw new BadInputException(source, where + ": activations " + name + " differ from the output's input_activations "
                    + declared + " (the search must score what the checkpoint's runtime does)");
        }
        ActivationScheme scheme = ActivationScheme.named(name);
        if (scheme == null) {
            throw new BadInputException(source, where + ": unknown activations '" + name + "' (intN-token, intN-tensor, intN-tensor-dynamic, "
                    + "fp8-… with N in 2..8)");
        }
        int lossTokens = p.get("loss_tokens").intValue();
        if (lossTokens < 0) throw new BadInputException(source, where + ": loss_tokens must be >= 0, got " + lossTokens);
        int grid = p.get("grid").intValue();
        if (grid < 1 || grid > 1000) throw new BadInputException(source, where + ": grid must be 1..1000, got " + grid);
        p.put("activations", name);
        return new SmoothQuantTransform.Search(SmoothQuant.grid(grid), scheme, lossTokens);
    }
}
