package dev.lowbit.io.model;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.hf.HfConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * One model input, whatever its file format, seen the way the Hugging Face checkpoint it stands for would be seen:
 * the config ({@link HfConfig}), the architecture, the tokenizer, and the tensors by Hugging Face name with PyTorch
 * shapes, decoded to f32 rows on demand.
 *
 * <p>Two kinds today: a Hugging Face directory ({@link HfModelSource}: plain, GPTQ or compressed-tensors safetensors,
 * single or sharded) and a llama.cpp GGUF file ({@link GgufModelSource}: block types dequantized row by row, q/k rows
 * put back in Hugging Face order, config and tokenizer synthesised from the metadata). Files are memory-mapped; nothing
 * is copied whole onto the heap and nothing is written to disk. Rows stay valid to read until {@link #close()}.
 *
 * <p>Rows: a tensor of PyTorch shape {@code [d₀, …, dₙ₋₁]} has {@code d₀·…·dₙ₋₂} rows of {@code dₙ₋₁} values; a 1-D
 * tensor is one row.
 */
public interface ModelSource extends AutoCloseable {

    /** Opens a Hugging Face model directory or a {@code .gguf} file (recognised by its magic, not its name). */
    static ModelSource open(Path path) {
        if (Files.isDirectory(path)) return HfModelSource.open(path);
        if (isGguf(path)) return GgufModelSource.open(path);
        if (Files.isRegularFile(path)) {
            throw new BadInputException(path, "not a GGUF file (expected a Hugging Face model directory or a .gguf file)");
        }
        throw new BadInputException(path, "not found (expected a Hugging Face model directory or a .gguf file)");
    }

    /** Whether {@code path} is a regular file starting with the GGUF magic. */
    static boolean isGguf(Path path) {
        if (!Files.isRegularFile(path)) return false;
        try (InputStream in = Files.newInputStream(path)) {
            byte[] m = in.readNBytes(4);
            return m.length == 4 && m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F';
        } catch (IOException e) {
            throw new BadInputException(path, "cannot read: " + e.getMessage());
        }
    }

    /** The directory or file this model was opened from (what error messages name). */
    Path path();

    /** The model's {@code config.json}, read from the directory or synthesised from GGUF hyperparameters. */
    HfConfig config();

    /** The Hugging Face architecture class name ({@code LlamaForCausalLM}, {@code Qwen2ForCausalLM}, …). */
    default String architecture() {
        List<String> a = config().architectures();
        if (a.isEmpty()) throw new BadInputException(path(), "config has no 'architectures' entry");
        return a.getFirst();
    }

    /** The {@code tokenizer.json} file when the model has one on disk (a Hugging Face directory). */
    Optional<Path> tokenizerFile();

    /**
     * The {@code tokenizer.json} text: the file's content, or one synthesised from GGUF tokenizer metadata.
     * A {@link BadInputException} when the model carries no tokenizer lowbit can rebuild.
     */
    String tokenizerJson();

    /**
     * The activation quantization the checkpoint declares for its Linear inputs (compressed-tensors
     * {@code input_activations}, e.g. W8A8), or null for weight-only and plain models.
     */
    default dev.lowbit.io.quant.ActivationScheme activationScheme() {
        return null;
    }

    /**
     * Whether the runtime quantizes {@code module}'s input under {@link #activationScheme()}: by default every Linear
     * when a scheme is declared; a checkpoint that declares activations for its quantized Linears only (int-quantized
     * with an {@code ignore} list) says which.
     */
    default boolean quantizesInput(String module) {
        return activationScheme() != null;
    }

    /** The stored static activation scale of {@code module}'s input (when {@link #activationScheme()} is static). */
    default float inputScale(String module) {
        throw new BadInputException(path(), module + ": the model stores no activation scales");
    }

    /** Tensor names (Hugging Face names) in file order. */
    List<String> tensorNames();

    boolean contains(String name);

    /** PyTorch shape of {@code name} ({@code [out, in]} for a Linear weight); a {@link BadInputException} when absent. */
    long[] shape(String name);

    /**
     * Decodes rows {@code [first, first + count)} of {@code name} to f32 into {@code out[offset .. offset +
     * count·rowLength)}, in Hugging Face row order.
     */
    void readRows(String name, long first, int count, float[] out, int offset);

    /** Values per row of {@code name}: its last dimension (1 for a scalar). */
    default int rowLength(String name) {
        long[] s = shape(name);
        return s.length == 0 ? 1 : Math.toIntExact(s[s.length - 1]);
    }

    /** Rows of {@code name}: the product of all dimensions but the last. */
    default long rowCount(String name) {
        long[] s = shape(name);
        long n = 1;
        for (int i = 0; i < s.length - 1; i++) n = Math.multiplyExact(n, s[i]);
        return n;
    }

    /** The whole tensor as f32, row-major. One tensor at a time, for weight matrices; never a whole model. */
    default float[] readAll(String name) {
        long rows = rowCount(name);
        int len = rowLength(name);
        long n = Math.multiplyExact(rows, (long) len);
        if (n > Integer.MAX_VALUE - 8) throw new BadInputException(path(), "tensor '" + name + "' is too large for one array");
        float[] out = new float[(int) n];
        readRows(name, 0, Math.toIntExact(rows), out, 0);
        return out;
    }

    /**
     * The stored codes of {@code name} when the model keeps it quantized (a GPTQ, compressed-tensors, AWQ or trit-plane
     * Linear weight): what a runtime with a kernel for that layout multiplies by directly; empty otherwise.
     */
    default java.util.Optional<dev.lowbit.io.quant.QuantizedTensor> quantized(String name) {
        return java.util.Optional.empty();
    }

    /** As {@link dev.lowbit.io.tensor.TensorSource#releasePages()}: the mapped pages leave the resident set. */
    default void releasePages() {}

    /** Unmaps the files. */
    @Override
    void close();
}
