package dev.lowbit.io.export;

import java.util.List;

/**
 * llama.cpp's mix policy as a {@link BitAllocation}: every tensor's type exactly as {@code llama-quantize} chooses it
 * for the options' mix, {@code --pure}, {@code --tensor-type} overrides and importance-matrix presence (the rules are
 * in {@link QuantMix}).
 */
public record LlamaCppMix(QuantMix.Options options) implements BitAllocation {
    @Override
    public LlamaFtype ftype() {
        return options.ftype();
    }

    @Override
    public ExportPlan plan(QuantMix.ModelInfo model, List<TensorSpec> tensors) {
        return QuantMix.plan(model, options, tensors);
    }
}
