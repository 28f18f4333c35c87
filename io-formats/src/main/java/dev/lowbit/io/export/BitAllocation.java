package dev.lowbit.io.export;

import java.util.List;

/**
 * Chooses the ggml type of every tensor of a GGUF export: the bit-allocation step. llama.cpp's mix rules
 * ({@link LlamaCppMix}, the policy of {@code llama-quantize}) are one allocation; an exact one that minimises a
 * measured loss under a size budget is another. The GGUF pipeline plans through this interface only.
 *
 * <p>It lives in io-formats beside {@link ExportPlan} rather than in ptq-algorithms because the GGUF export planner,
 * which calls it while it maps checkpoint names, is here; allocations that need statistics take them as data.
 */
public interface BitAllocation {
    /** The mix the file declares in {@code general.file_type}. */
    LlamaFtype ftype();

    /**
     * Plans every tensor's type.
     *
     * @param model   what the rules may know about the model (layers, heads, experts)
     * @param tensors every tensor of the export with its GGUF name, dims and unquantized type
     * @return the plan, in llama.cpp's tensor order (the order to write tensors in)
     */
    ExportPlan plan(QuantMix.ModelInfo model, List<TensorSpec> tensors);

    /** llama-quantize's policy with these options. */
    static BitAllocation llamaCpp(QuantMix.Options options) {
        return new LlamaCppMix(options);
    }
}
