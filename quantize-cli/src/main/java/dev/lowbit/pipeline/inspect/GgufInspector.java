package dev.lowbit.pipeline.inspect;

import dev.lowbit.io.BadInputException;
import java.nio.file.Path;

/** GGUF side of {@link ModelInspector}. */
final class GgufInspector {
    private GgufInspector() {}

    static InspectReport inspect(Path path) {
        throw new BadInputException(path, "GGUF inspection is not available in this build");
    }
}
