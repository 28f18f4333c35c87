package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.GgufHyperparameters;
import dev.lowbit.io.export.BitAllocation;
import dev.lowbit.io.export.ExportPlan;
import dev.lowbit.io.export.QuantMix;
import dev.lowbit.io.export.TensorSpec;
import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import dev.lowbit.io.gguf.GgufValue;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;

/**
 * A GGUF file as a source (re-typing a llama.cpp model, as {@code llama-quantize} does): tensors are already in
 * llama.cpp's names and row order; rows of any type lowbit has a codec for are decoded to f32 on demand. The
 * metadata is kept as it is, except {@code general.quantization_version} and {@code general.file_type}, which move to
 * the end as llama-quantize moves them.
 */
final class GgufFileSourceModel implements GgufSourceModel {
    static final String FILE_TYPE = "general.file_type";
    static final String QUANTIZATION_VERSION = "general.quantization_version";

    private final GgufFile file;

    private GgufFileSourceModel(GgufFile file) {
        this.file = file;
    }

    static GgufFileSourceModel open(Path path) {
        GgufFile f = GgufFile.open(path);
        try {
            // hyperparameters typed and in range, tensors exactly the architecture's with the implied shapes, all finite
            GgufHyperparameters.requireValidModel(f);
            return new GgufFileSourceModel(f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    @Override
    public String source() {
        return file.path().toString();
    }

    /** The model facts the mix rules need, from {@code general.architecture} and its hyperparameter keys. */
    QuantMix.ModelInfo modelInfo() {
        GgufValue a = file.get("general.architecture");
        if (a == null) throw new BadInputException(file.path(), "no general.architecture: not a model file");
        String arch = a.asString();
        int layers = intKey(arch + ".block_count", -1);
        if (layers < 0) throw new BadInputException(file.path(), "no " + arch + ".block_count");
        int heads = intKey(arch + ".attention.head_count", 0);
        int kv = intKey(arch + ".attention.head_count_kv", heads);
        return new QuantMix.ModelInfo(arch, layers, heads, kv, intKey(arch + ".expert_count", 0));
    }

    private int intKey(String key, int dflt) {
        return file.intOr(key, dflt);
    }

    @Override
    public ExportPlan plan(BitAllocation allocation) {
        List<TensorSpec> specs = new ArrayList<>();
        for (GgufTensorInfo t : file.tensorInfos()) {
            long[] dims = t.dims().length == 0 ? new long[] {1} : t.dims();
            specs.add(new TensorSpec(t.name(), dims, t.type()));
        }
        try {
            return allocation.plan(modelInfo(), specs);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(file.path(), e.getMessage());
        }
    }

    @Override
    public SequencedMap<String, GgufValue> metadata(ExportPlan plan) {
        SequencedMap<String, GgufValue> kv = new LinkedHashMap<>(file.kv());
        // gguf_set_val_* removes a key and appends it: llama-quantize's files end with these two, in this order
        kv.remove(QUANTIZATION_VERSION);
        kv.remove(FILE_TYPE);
        kv.put(QUANTIZATION_VERSION, GgufValue.ofUint32(2));
        kv.put(FILE_TYPE, GgufValue.ofUint32(plan.ftype().id()));
        return kv;
    }

    @Override
    public GgmlType sourceType(String name) {
        return file.tensorInfo(name).type();
    }

    @Override
    public MemorySegment rawBytes(String name) {
        return file.data(name);
    }

    @Override
    public void readRows(String name, long first, int count, float[] out) {
        GgufTensorInfo t = file.tensorInfo(name);
        if (!BlockCodecs.supports(t.type())) {
            throw new BadInputException(file.path(), "tensor '" + name + "' is " + t.type() + ", which lowbit cannot decode");
        }
        BlockCodec c = BlockCodecs.forType(t.type());
        int row = Math.toIntExact(t.dims().length == 0 ? 1 : t.dims()[0]);
        long rowBytes = c.rowBytes(row);
        MemorySegment data = file.data(t);
        for (int i = 0; i < count; i++) c.dequantizeRow(data, (first + i) * rowBytes, out, i * row, row);
    }

    @Override
    public void close() {
        file.close();
    }
}
