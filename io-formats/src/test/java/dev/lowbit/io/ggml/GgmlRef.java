package dev.lowbit.io.ggml;

import dev.lowbit.io.SharedData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test helper: the shared fixtures and the ggml reference vectors in {@code data/ggml-ref}. */
public final class GgmlRef {
    public static final int ROWS = 885;
    public static final int ROW_LENGTH = 256;

    private GgmlRef() {}

    public static Path dir() {
        return SharedData.resolve("data/ggml-ref");
    }

    /** The 885 × 256 f32 rows of real stories260K weights. */
    public static float[] matrices() {
        return readF32(dir().resolve("stories260K_matrices.f32"));
    }

    /** ggml's quantized bytes for type {@code t} (file name {@code m.<t>.q}). */
    public static byte[] quantized(String t) {
        return readBytes(dir().resolve("m." + t + ".q"));
    }

    /** ggml's dequantization of {@link #quantized(String)}. */
    public static float[] dequantized(String t) {
        return readF32(dir().resolve("m." + t + ".deq.f32"));
    }

    public static byte[] readBytes(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static float[] readF32(Path p) {
        byte[] b = readBytes(p);
        float[] f = new float[b.length / 4];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }
}
