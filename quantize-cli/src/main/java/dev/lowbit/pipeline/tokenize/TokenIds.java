package dev.lowbit.pipeline.tokenize;

import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code lowbit tokenize -o FILE}: token ids as little-endian int32, written through {@link SafeOutput}. */
public final class TokenIds {
    private TokenIds() {}

    /**
     * Writes {@code ids} to {@code output} with its sidecar manifest (the tokenizer and data files' sha256).
     *
     * @param model the model directory whose {@code tokenizer.json} produced the ids (an input the output must not touch)
     * @param data  the text that was tokenized (likewise)
     */
    public static void write(int[] ids, Path output, boolean force, Path model, Path data) {
        ByteBuffer buf = ByteBuffer.allocate(Math.multiplyExact(ids.length, 4)).order(ByteOrder.LITTLE_ENDIAN);
        for (int id : ids) buf.putInt(id);
        SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("MODEL", model).add("--data", data);
        try (SafeOutput out = SafeOutput.file(output, force, inputs)) {
            try {
                Files.write(out.path(), buf.array());
                Manifest m = new Manifest("{\"command\": \"tokenize\", \"dtype\": \"int32\", \"byte_order\": \"little\"}", 0);
                Path tokenizer = model.resolve("tokenizer.json");
                if (Files.isRegularFile(tokenizer)) m.input("model", List.of(tokenizer));
                m.input("data", List.of(data));
                m.figure("tokens", ids.length);
                out.commit(m);
            } catch (IOException | RuntimeException e) {
                throw out.failure(e);
            }
        }
    }
}
