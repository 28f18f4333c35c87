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

    /**
     * Drops this source's mapped pages from the process (madvise {@code MADV_DONTNEED}): tensors stay valid and are
     * read back from the page cache or the file when next touched. Streaming commands call it at layer boundaries so
     * that the pages of layers already done do not count in the resident set of a model larger than memory.
     */
    default void releasePages() {}

    @Override
    void close();
}
