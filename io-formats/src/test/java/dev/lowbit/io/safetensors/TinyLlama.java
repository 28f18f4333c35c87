package dev.lowbit.io.safetensors;

import java.nio.file.Path;

/** Where the shared fixtures live: {@code -Dlowbit.shared} (set by surefire), else {@code ../shared}. */
public final class TinyLlama {
    private TinyLlama() {}

    public static Path shared() {
        return Path.of(System.getProperty("lowbit.shared", "../shared"));
    }

    /** The tiny-llama-code checkpoint directory (5 bf16 shards written by the reference writer). */
    public static Path dir() {
        return shared().resolve("models/tiny-llama-code");
    }
}
