package dev.lowbit.io.tensor;

import java.util.List;
import java.util.Map;

/**
 * Named tensors from a checkpoint (a safetensors file, a sharded directory, a GGUF file).
 * Tensors stay valid until {@link #close()}, which unmaps the files.
 */
public interface TensorSource extends AutoCloseable {
    /** Tensor names in file order. */
    List<String> names();

    boolean contains(String name);

    /** The tensor, or a {@link dev.lowbit.io.BadInputException} naming the file when absent. */
    Tensor tensor(String name);

    /** String metadata ({@code __metadata__} for safetensors); empty when none. */
    Map<String, String> metadata();

    @Override
    void close();
}
