package dev.lowbit.pipeline.artifact;

import dev.lowbit.pipeline.recipe.Output;

/** The writer of each {@code output.format}. A new target adds one case here. */
public final class ArtifactWriters {
    private ArtifactWriters() {}

    /** A fresh writer for {@code format} (a recipe's checked {@code output.format}). */
    public static ArtifactWriter forFormat(String format) {
        return switch (format) {
            case Output.GPTQ, Output.COMPRESSED_TENSORS, Output.AWQ, Output.SAFETENSORS, Output.TRIT_PLANES, Output.DEQUANTIZED -> new SafetensorsArtifactWriter(format);
            default -> throw new IllegalArgumentException("no writer for format " + format);
        };
    }
}
