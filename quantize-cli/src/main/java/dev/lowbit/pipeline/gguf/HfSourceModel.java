package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.BitAllocation;
import dev.lowbit.io.export.ExportPlan;
import dev.lowbit.io.export.GgufExportPlanner;
import dev.lowbit.io.export.RotaryPermutation;
import dev.lowbit.io.export.TensorNames;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.SequencedMap;

/**
 * A Hugging Face Llama-family directory as a GGUF source: names, metadata and the type plan come from
 * {@link GgufExportPlanner}; rows are decoded from the (memory-mapped) safetensors on demand, q/k rows taken in the
 * {@link RotaryPermutation} order, so a permuted tensor is never materialised.
 */
final class HfSourceModel implements GgufSourceModel {
    private final Path dir;
    private final TensorSource tensors;
    private GgufExportPlanner.Spec spec;

    private HfSourceModel(Path dir, TensorSource tensors) {
        this.dir = dir;
        this.tensors = tensors;
    }

    static HfSourceModel open(Path dir) {
        return new HfSourceModel(dir, ShardedSafetensors.open(dir));
    }

    @Override
    public String source() {
        return dir.toString();
    }

    @Override
    public ExportPlan plan(BitAllocation allocation) {
        spec = GgufExportPlanner.plan(dir, allocation);
        return spec.plan();
    }

    @Override
    public SequencedMap<String, GgufValue> metadata(ExportPlan plan) {
        if (spec == null || spec.plan() != plan) throw new IllegalStateException("metadata() of a plan this source did not make");
        return spec.metadata();
    }

    @Override
    public GgmlType sourceType(String name) {
        return GgmlType.F32;
    }

    @Override
    public MemorySegment rawBytes(String name) {
        return null;
    }

    @Override
    public void readRows(String name, long first, int count, float[] out) {
        if (name.equals(GgufExportPlanner.ROPE_FREQS)) {
            float[] f = spec.ropeFreqs();
            System.arraycopy(f, 0, out, 0, f.length);
            return;
        }
        TensorNames.Mapping m = spec.tensors().get(name);
        if (m == null) throw new BadInputException(dir, "no checkpoint tensor for GGUF tensor '" + name + "'");
        Tensor t = tensors.tensor(m.hfName());
        long[] d = m.ggufDims();
        int cols = Math.toIntExact(d[0]);
        long rows = d.length > 1 ? t.elementCount() / cols : 1;
        int heads = switch (m.rows()) {
            case PERMUTE_Q -> spec.hyperparameters().headCount();
            case PERMUTE_K -> spec.hyperparameters().headCountKv();
            case AS_IS -> 0;
        };
        if (heads == 0) {
            t.toFloats(first * cols, out, 0, Math.multiplyExact(count, cols));
            return;
        }
        if (d.length == 1) {
            // a q/k bias: one row whose elements are permuted like the weight's rows
            for (int j = 0; j < cols; j++) out[j] = t.getFloat(RotaryPermutation.sourceRow(j, cols, heads));
            return;
        }
        for (int i = 0; i < count; i++) {
            long src = RotaryPermutation.sourceRow(Math.toIntExact(first + i), Math.toIntExact(rows), heads);
            t.toFloats(src * cols, out, i * cols, cols);
        }
    }

    @Override
    public void close() {
        tensors.close();
    }
}
