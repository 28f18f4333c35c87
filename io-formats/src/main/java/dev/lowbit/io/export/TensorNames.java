package dev.lowbit.io.export;

import dev.lowbit.io.arch.ModelArchitecture;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Hugging Face tensor names → GGUF tensor names, read from the architecture table ({@link ModelArchitecture}): names
 * on both sides and the q/k row treatment. GGUF dims are the reversed PyTorch shape ({@code [out, in]} →
 * {@code [in, out]}).
 */
public final class TensorNames {

    /** What the exporter must do to a tensor's rows on the way out. */
    public enum Rows {
        /** Copy as is. */
        AS_IS,
        /** {@link RotaryPermutation} with the query head count. */
        PERMUTE_Q,
        /** {@link RotaryPermutation} with the key/value head count. */
        PERMUTE_K
    }

    /** A mapped tensor: GGUF name, GGUF dims and the row treatment. */
    public record Mapping(String hfName, String ggufName, long[] ggufDims, Rows rows) {
        public Mapping {
            ggufDims = ggufDims.clone();
        }

        @Override
        public long[] ggufDims() {
            return ggufDims.clone();
        }
    }

    /** Checkpoint entries the converter drops: cached rotary tables. */
    private static final Pattern SKIPPED = Pattern.compile(".*\\.rotary_emb\\..*");

    private final ModelArchitecture arch;

    private TensorNames(ModelArchitecture arch) {
        this.arch = arch;
    }

    /** The table for a GGUF architecture ({@code llama}, {@code qwen2}, {@code qwen3}). */
    public static TensorNames forArchitecture(String ggufArch) {
        return new TensorNames(ModelArchitecture.byGgufName(ggufArch).orElseThrow(
                () -> new IllegalArgumentException("no tensor name table for architecture '" + ggufArch + "'")));
    }

    /** Whether the converter drops this checkpoint entry. */
    public boolean skipped(String hfName) {
        return SKIPPED.matcher(hfName).matches();
    }

    /**
     * Maps one tensor. q/k permutation is requested only where the family uses llama.cpp's NORM rope ({@code llama}).
     *
     * @param torchShape the PyTorch shape ({@code [out, in]} for a Linear)
     * @return the mapping, or {@code null} when the name is not in the table
     */
    public Mapping map(String hfName, long[] torchShape) {
        Optional<ModelArchitecture.Slot> slot = arch.parseHf(hfName);
        if (slot.isEmpty()) return null;
        Rows rows = switch (arch.rows(slot.get().role())) {
            case AS_IS -> Rows.AS_IS;
            case PERMUTE_Q -> Rows.PERMUTE_Q;
            case PERMUTE_K -> Rows.PERMUTE_K;
        };
        return new Mapping(hfName, slot.get().ggufName(), reversed(torchShape), rows);
    }

    /** The Hugging Face name of a GGUF tensor name, or {@code null}. */
    public String hfName(String ggufName) {
        return arch.parseGguf(ggufName).map(ModelArchitecture.Slot::hfName).orElse(null);
    }

    /**
     * Maps every tensor of a checkpoint, dropping the entries the converter drops.
     *
     * @throws IllegalArgumentException naming every tensor the table does not know
     */
    public List<Mapping> mapAll(List<String> hfNames, java.util.function.Function<String, long[]> shapeOf) {
        List<Mapping> out = new ArrayList<>();
        List<String> unknown = new ArrayList<>();
        for (String n : hfNames) {
            if (skipped(n)) continue;
            Mapping m = map(n, shapeOf.apply(n));
            if (m == null) unknown.add(n);
            else out.add(m);
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("no GGUF name for " + unknown.size() + " tensor(s) of a " + arch.ggufName() + " model: " + unknown);
        }
        return out;
    }

    /** GGUF dims: the PyTorch shape reversed. */
    public static long[] reversed(long[] torchShape) {
        long[] d = new long[torchShape.length];
        for (int i = 0; i < d.length; i++) d[i] = torchShape[torchShape.length - 1 - i];
        return d;
    }

    @Override
    public String toString() {
        return "TensorNames[" + arch.ggufName() + "]";
    }
}
