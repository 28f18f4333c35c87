package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.BitAllocation;
import dev.lowbit.io.export.ExportPlan;
import dev.lowbit.io.export.QuantMix;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufValue;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SequencedMap;

/**
 * A model the GGUF pipeline reads from, seen already in GGUF terms: GGUF tensor names, GGUF dims ({@code dims[0]} is
 * the row length), rows in llama.cpp's order (q/k rotary rows permuted), and the metadata to write. Rows are decoded to
 * f32 on demand, a few at a time, so a reader never holds more than the rows it asked for.
 *
 * <p>Two kinds: a Hugging Face directory ({@link HfSourceModel}) and a GGUF file ({@link GgufFileSourceModel}).
 */
sealed interface GgufSourceModel extends AutoCloseable permits HfSourceModel, GgufFileSourceModel {

    /** Opens a Hugging Face model directory or a {@code .gguf} file. */
    static GgufSourceModel open(Path path) {
        if (Files.isDirectory(path)) return HfSourceModel.open(path);
        if (Files.isRegularFile(path)) return GgufFileSourceModel.open(path);
        throw new BadInputException(path, "not found (expected a Hugging Face model directory or a .gguf file)");
    }

    /** What to blame in messages. */
    String source();

    /** The per-tensor type plan the allocation chooses for this model, in writing order. */
    ExportPlan plan(BitAllocation allocation);

    /** The plan of llama-quantize's mix rules with these options. */
    default ExportPlan plan(QuantMix.Options options) {
        return plan(BitAllocation.llamaCpp(options));
    }

    /** Metadata key-values to write, in order, with {@code general.file_type} set for the plan's mix. */
    SequencedMap<String, GgufValue> metadata(ExportPlan plan);

    /** The tensor's type in the source (F32 for anything decoded from a Hugging Face checkpoint's floats). */
    GgmlType sourceType(String name);

    /**
     * The tensor's bytes exactly as they are to be written when the planned type equals the source type, or
     * {@code null} when the rows must be re-encoded (a permuted or decoded tensor).
     */
    MemorySegment rawBytes(String name);

    /**
     * Decodes rows {@code [first, first + count)} of tensor {@code name} (GGUF row order) to f32 into
     * {@code out[0 .. count·rowLength)}.
     */
    void readRows(String name, long first, int count, float[] out);

    @Override
    void close();
}
