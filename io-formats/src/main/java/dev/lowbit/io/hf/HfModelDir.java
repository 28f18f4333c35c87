package dev.lowbit.io.hf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * A Hugging Face model directory: {@code config.json}, the weights ({@code model.safetensors} or shards with
 * {@code model.safetensors.index.json}) and, when present, {@code tokenizer.json} and {@code tokenizer_config.json}.
 * Closing it unmaps the weights.
 *
 * @param dir             the directory
 * @param config          the parsed {@code config.json}
 * @param tensors         the weights, memory-mapped
 * @param tokenizerJson   {@code tokenizer.json} when present
 * @param tokenizerConfig {@code tokenizer_config.json} when present
 */
public record HfModelDir(Path dir, HfConfig config, TensorSource tensors, Optional<Path> tokenizerJson,
                         Optional<Path> tokenizerConfig) implements AutoCloseable {
    public static final String CONFIG = "config.json";
    public static final String TOKENIZER = "tokenizer.json";
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";

    public HfModelDir {
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(tensors, "tensors");
        Objects.requireNonNull(tokenizerJson, "tokenizerJson");
        Objects.requireNonNull(tokenizerConfig, "tokenizerConfig");
    }

    /**
     * Opens {@code dir}: parses {@code config.json} first (so a bad config fails before any weights are mapped), then
     * maps the weights through {@link ShardedSafetensors#open}.
     */
    public static HfModelDir open(Path dir) {
        if (!Files.isDirectory(dir)) throw new BadInputException(dir, "not a directory (expected a Hugging Face model directory)");
        HfConfig config = HfConfig.read(dir.resolve(CONFIG));
        TensorSource tensors = ShardedSafetensors.open(dir);
        return new HfModelDir(dir, config, tensors, optionalFile(dir.resolve(TOKENIZER)), optionalFile(dir.resolve(TOKENIZER_CONFIG)));
    }

    private static Optional<Path> optionalFile(Path p) {
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    @Override
    public void close() {
        tensors.close();
    }
}
