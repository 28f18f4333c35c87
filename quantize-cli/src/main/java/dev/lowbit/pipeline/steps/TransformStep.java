package dev.lowbit.pipeline.steps;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.pipeline.awq.BalancePass;

/**
 * A configured weight transform (AWQ, SmoothQuant), as the pipeline runs it before the quantizer: a pass over the
 * calibration windows that rewrites norms and Linears ({@link BalancePass}). It always needs calibration data.
 */
public interface TransformStep extends StepType.Configured {
    String name();

    /** The pass's options for a run whose quantizer targets {@code scheme} (AWQ searches with that grid). */
    BalancePass.Options options(QuantScheme scheme);
}
