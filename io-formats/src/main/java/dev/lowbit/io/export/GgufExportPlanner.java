package dev.lowbit.io.export;

import dev.lowbit.io.gguf.GgufArray;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufValueType;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.hf.HfConfig;
import dev.lowbit.io.hf.HfModelCheck;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.TensorSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * Everything a GGUF writer needs to know about a Hugging Face model before any tensor data is touched: the metadata
 * key-values (hyperparameters, then tokenizer), each checkpoint tensor's GGUF name, dims and row treatment, and the
 * per-tensor type plan of the chosen mix. It reads only JSON files and safetensors headers.
 */
public final class GgufExportPlanner {

    /** Name of the Llama-3.1-style rope scaling factor tensor. */
    public static final String ROPE_FREQS = "rope_freqs.weight";

    /**
     * The plan for one export.
     *
     * @param metadata  GGUF key-values in writing order, exact types
     * @param tensors   checkpoint tensors by GGUF name (with the HF name and q/k row treatment)
     * @param ropeFreqs the F32 {@code rope_freqs.weight} values to add, or {@code null}
     * @param plan      ggml type per tensor, in llama.cpp's tensor order (write tensors in this order)
     */
    public record Spec(SequencedMap<String, GgufValue> metadata, Map<String, TensorNames.Mapping> tensors,
                       float[] ropeFreqs, ExportPlan plan, ModelHyperparameters hyperparameters) {
    }

    private GgufExportPlanner() {
    }

    /**
     * Plans a GGUF export of a Hugging Face model directory. The block-size check is left to the caller
     * ({@link ExportPlan#requireBlockFit}) so a report can show the whole plan first.
     */
    public static Spec plan(Path dir, QuantMix.Options options) {
        return plan(dir, BitAllocation.llamaCpp(options));
    }

    /** As {@link #plan(Path, QuantMix.Options)}, with the tensor types chosen by {@code allocation}. */
    public static Spec plan(Path dir, BitAllocation allocation) {
        // llama.cpp has no online Hadamard: a checkpoint that needs one is refused before anything is planned
        dev.lowbit.io.arch.OnlineRotation.refuse(HfConfig.read(dir.resolve("config.json")), dir.resolve("config.json").toString(), "GGUF");
        dev.lowbit.io.hf.LowbitDequantized.refuse(HfConfig.readDocument(dir.resolve("config.json")), dir.resolve("config.json").toString(), "convert");
        ModelHyperparameters hp = ModelHyperparameters.fromHuggingFace(dir);
        TokenizerMetadata tok = TokenizerMetadata.fromHuggingFace(dir);
        SequencedMap<String, GgufValue> kv = new LinkedHashMap<>(hp.toKvs(allocation.ftype()));
        kv.putAll(tok.toKvs());

        Map<String, long[]> shapes = new LinkedHashMap<>();
        try (TensorSource src = ShardedSafetensors.open(dir)) {
            // the checkpoint as a model: tensors against config.json, no NaN/Inf, before anything is planned
            HfModelCheck.require(dir, HfConfig.read(dir.resolve("config.json")), src);
            for (String n : src.names()) shapes.put(n, src.tensor(n).shape().dims());
        }
        TensorNames names = TensorNames.forArchitecture(hp.arch());
        List<TensorNames.Mapping> mapped;
        try {
            mapped = names.mapAll(new ArrayList<>(shapes.keySet()), shapes::get);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(dir, e.getMessage());
        }
        Map<String, TensorNames.Mapping> byGguf = new LinkedHashMap<>();
        List<TensorSpec> specs = new ArrayList<>();
        for (TensorNames.Mapping m : mapped) {
            checkRotaryRows(dir, hp, m);
            if (byGguf.put(m.ggufName(), m) != null) throw new BadInputException(dir, "two tensors map to GGUF name " + m.ggufName());
            specs.add(new TensorSpec(m.ggufName(), m.ggufDims(), dev.lowbit.io.ggml.GgmlType.F32));
        }
        float[] ropeFreqs = hp.ropeFreqs();
        if (ropeFreqs != null) specs.add(TensorSpec.f32(ROPE_FREQS, ropeFreqs.length));
        ExportPlan plan = allocation.plan(hp.mixInfo(), specs);
        return new Spec(kv, byGguf, ropeFreqs, plan, hp);
    }

    private static void checkRotaryRows(Path dir, ModelHyperparameters hp, TensorNames.Mapping m) {
        int heads = switch (m.rows()) {
            case PERMUTE_Q -> hp.headCount();
            case PERMUTE_K -> hp.headCountKv();
            case AS_IS -> 0;
        };
        if (heads == 0) return;
        long[] d = m.ggufDims();
        long rows = d.length > 1 ? d[1] : d[0];
        if (rows % (2L * heads) != 0) {
            throw new BadInputException(dir, "tensor '" + m.hfName() + "' has " + rows + " rows, not " + heads + " heads of even size");
        }
    }
}
