package dev.lowbit.io.export;

import dev.lowbit.io.BadInputException;

import java.util.List;

/**
 * The per-tensor type decisions for one GGUF export, in the order llama.cpp's quantizer writes tensors (non-layer
 * tensors first, then by layer number, by name within a layer). Check {@link #requireBlockFit(String)} before writing
 * anything: a row length that is not a whole number of blocks cannot be stored.
 */
public record ExportPlan(LlamaFtype ftype, List<PlannedTensor> tensors) {
    public ExportPlan {
        tensors = List.copyOf(tensors);
    }

    /** The tensor with this GGUF name, or {@code null}. */
    public PlannedTensor get(String name) {
        for (PlannedTensor t : tensors) {
            if (t.name().equals(name)) return t;
        }
        return null;
    }

    /** Every tensor whose row length does not fit its type's block size, in plan order. */
    public List<PlannedTensor> misfits() {
        return tensors.stream().filter(t -> !t.fitsBlocks()).toList();
    }

    /** Tensors whose type came from the row-length fallback rather than the mix. */
    public List<PlannedTensor> fallbacks() {
        return tensors.stream().filter(t -> t.fallbackFrom() != null).toList();
    }

    /**
     * Fails, naming every misfit tensor at once, if any row length does not fit its type's block size.
     *
     * @param source the input to blame in the message (the model directory)
     */
    public void requireBlockFit(String source) {
        List<PlannedTensor> bad = misfits();
        if (bad.isEmpty()) return;
        StringBuilder sb = new StringBuilder(ftype + ": " + bad.size() + " tensor(s) have rows that are not a whole number of blocks: ");
        for (int i = 0; i < bad.size(); i++) {
            PlannedTensor t = bad.get(i);
            if (i > 0) sb.append(", ");
            sb.append('\'').append(t.name()).append("' row ").append(t.dims()[0]).append(" vs ").append(t.type())
                    .append(" block ").append(t.type().blockSize());
        }
        throw new BadInputException(source, sb.toString());
    }

    /** Total bytes of tensor data (unpadded). */
    public long dataBytes() {
        long n = 0;
        for (PlannedTensor t : tensors) n += t.fitsBlocks() ? t.byteSize() : 0;
        return n;
    }
}
