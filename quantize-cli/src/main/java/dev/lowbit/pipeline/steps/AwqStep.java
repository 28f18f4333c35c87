package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.ptq.awq.AwqTransform;
import dev.lowbit.ptq.transform.WeightTransform;
import java.util.List;
import java.util.function.Supplier;

/**
 * {@code awq}: activation-aware scale search (α on a grid, scored by the block output with the quantizer's grid) and
 * clip search, folded into the norms and Linears before the quantizer (RTN, GPTQ).
 */
final class AwqStep extends BalanceStep {
    static final List<Param> PARAMS = List.of(
            Param.ofBool("scale", true, "search per-channel scales per balance mapping (block loss, weights fake-quantized)"),
            Param.ofBool("clip", true, "search per-group clipping thresholds (every Linear but q, k)"),
            Param.ofBool("duo", true, "AutoAWQ's weight-normalised scales (false: x_mean^alpha, llm-awq)"),
            Param.ofInt("grid", 20, "alpha = i/grid, i = 0..grid-1"),
            Param.ofInt("clip_bits", 4, "the grid the clip search rounds onto (the quantizer's bits)"),
            Param.ofInt("clip_group_size", 128, "... its group size (-1 per channel)"),
            Param.ofBool("clip_symmetric", false, "... symmetric or not"),
            Param.ofInt("loss_tokens", 4096, "calibration tokens (whole windows, evenly spaced) the scale search scores on; 0 = all"),
            Param.ofInt("clip_tokens", 16384, "calibration tokens (whole batches, evenly spaced) the clip search's Gram matrices sum; 0 = all"),
            Param.ofBool("fp_inputs", true, "before rtn: calibrate each layer on the fp outputs of the one before (llm-awq, AutoAWQ), not the quantized ones"));

    AwqStep() {
        super("awq", "AWQ scales + clipping, needs calibration, before rtn or gptq", PARAMS);
    }

    @Override
    Supplier<WeightTransform> transform(String source, String where, ObjectNode p, ObjectNode given, Output output) {
        int grid = p.get("grid").intValue();
        if (grid < 1 || grid > 1000) throw new BadInputException(source, where + ": grid must be 1..1000, got " + grid);
        int lossTokens = p.get("loss_tokens").intValue();
        if (lossTokens < 0) throw new BadInputException(source, where + ": loss_tokens must be >= 0, got " + lossTokens);
        int clipTokens = p.get("clip_tokens").intValue();
        if (clipTokens < 0) throw new BadInputException(source, where + ": clip_tokens must be >= 0, got " + clipTokens);
        if (!p.get("scale").booleanValue() && !p.get("clip").booleanValue()) {
            throw new BadInputException(source, where + ": scale and clip are both false: the step would do nothing");
        }
        QuantScheme clipScheme;
        try {
            clipScheme = new QuantScheme(p.get("clip_bits").intValue(), p.get("clip_group_size").intValue(), p.get("clip_symmetric").booleanValue());
        } catch (IllegalArgumentException e) {
            throw new BadInputException(source, where + ": " + e.getMessage());
        }
        AwqTransform.Config config = new AwqTransform.Config(p.get("scale").booleanValue(), p.get("clip").booleanValue(), grid,
                p.get("duo").booleanValue(), clipScheme, lossTokens, clipTokens, p.get("fp_inputs").booleanValue());
        return () -> new AwqTransform(config, BalanceStep::notice);
    }
}
