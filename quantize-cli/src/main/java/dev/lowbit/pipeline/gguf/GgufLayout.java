package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.BitAllocation;
import dev.lowbit.io.export.ExportPlan;
import dev.lowbit.io.export.GgufExportPlanner;
import dev.lowbit.io.export.PlannedTensor;
import dev.lowbit.io.export.QuantMix;
import dev.lowbit.io.export.TensorSpec;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.model.GgufModelSource;
import dev.lowbit.io.model.ModelSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * A model's GGUF output layout before any tensor is touched: the metadata to write, every tensor's GGUF name, dims
 * and planned ggml type in llama.cpp's order ({@link BitAllocation}), and for each the Hugging Face tensor it comes
 * from with the number of heads of its rotary row permutation (0: rows as they are). From a Hugging Face directory the
 * names, metadata and plan are {@link GgufExportPlanner}'s; from a {@code .gguf} they are the file's own (re-typing,
 * as llama-quantize does: metadata kept, except that {@code general.quantization_version} and
 * {@code general.file_type} move to the end, as llama-quantize moves them).
 *
 * @param sourceFile the GGUF file read, for tensors whose planned type is their type there (copied as they are);
 *                   {@code null} for a Hugging Face source
 */
record GgufLayout(SequencedMap<String, GgufValue> metadata, ExportPlan plan, Map<String, Origin> origins,
                  float[] ropeFreqs, GgufFile sourceFile) {
    static final String FILE_TYPE = "general.file_type";
    static final String QUANTIZATION_VERSION = "general.quantization_version";

    /**
     * Where a GGUF tensor comes from.
     *
     * @param hfName the Hugging Face name (null for {@code rope_freqs.weight}, which has none)
     * @param heads  heads of llama.cpp's q/k row permutation, 0 for none
     */
    record Origin(String hfName, int heads) {}

    /** The GGUF name of every Hugging Face tensor. */
    Map<String, String> ggufByHf() {
        Map<String, String> m = new HashMap<>();
        origins.forEach((g, o) -> {
            if (o.hfName() != null) m.put(o.hfName(), g);
        });
        return m;
    }

    static GgufLayout of(ModelSource source, BitAllocation allocation) {
        if (source instanceof GgufModelSource g) return ofGguf(g, allocation);
        GgufExportPlanner.Spec spec = GgufExportPlanner.plan(source.path(), allocation);
        Map<String, Origin> origins = new LinkedHashMap<>();
        for (PlannedTensor t : spec.plan().tensors()) {
            if (t.name().equals(GgufExportPlanner.ROPE_FREQS)) {
                origins.put(t.name(), new Origin(null, 0));
                continue;
            }
            var m = spec.tensors().get(t.name());
            if (m == null) throw new BadInputException(source.path(), "no checkpoint tensor for GGUF tensor '" + t.name() + "'");
            int heads = switch (m.rows()) {
                case PERMUTE_Q -> spec.hyperparameters().headCount();
                case PERMUTE_K -> spec.hyperparameters().headCountKv();
                case AS_IS -> 0;
            };
            origins.put(t.name(), new Origin(m.hfName(), heads));
        }
        return new GgufLayout(spec.metadata(), spec.plan(), origins, spec.ropeFreqs(), null);
    }

    private static GgufLayout ofGguf(GgufModelSource source, BitAllocation allocation) {
        GgufFile file = source.file();
        String arch = file.get("general.architecture").asString();
        int layers = file.intOr(arch + ".block_count", -1);
        int heads = file.intOr(arch + ".attention.head_count", 0);
        int kv = file.intOr(arch + ".attention.head_count_kv", heads);
        QuantMix.ModelInfo info = new QuantMix.ModelInfo(arch, layers, heads, kv, file.intOr(arch + ".expert_count", 0));
        List<TensorSpec> specs = new ArrayList<>();
        for (GgufTensorInfo t : file.tensorInfos()) {
            long[] dims = t.dims().length == 0 ? new long[] {1} : t.dims();
            specs.add(new TensorSpec(t.name(), dims, t.type()));
        }
        ExportPlan plan;
        try {
            plan = allocation.plan(info, specs);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(file.path(), e.getMessage());
        }
        SequencedMap<String, GgufValue> kvs = new LinkedHashMap<>(file.kv());
        // gguf_set_val_* removes a key and appends it: llama-quantize's files end with these two, in this order
        kvs.remove(QUANTIZATION_VERSION);
        kvs.remove(FILE_TYPE);
        kvs.put(QUANTIZATION_VERSION, GgufValue.ofUint32(2));
        kvs.put(FILE_TYPE, GgufValue.ofUint32(plan.ftype().id()));
        var table = dev.lowbit.io.arch.ModelArchitecture.forGguf(arch, file.path().toString());
        Map<String, Origin> origins = new LinkedHashMap<>();
        for (PlannedTensor t : plan.tensors()) {
            String hf = GgufModelSource.hfName(t.name());
            int h = 0;
            var slot = table.parseGguf(t.name());
            if (slot.isPresent()) {
                h = switch (table.rows(slot.get().role())) {
                    case PERMUTE_Q -> heads;
                    case PERMUTE_K -> kv;
                    case AS_IS -> 0;
                };
            }
            origins.put(t.name(), new Origin(hf, h));
        }
        return new GgufLayout(kvs, plan, origins, null, file);
    }
}
