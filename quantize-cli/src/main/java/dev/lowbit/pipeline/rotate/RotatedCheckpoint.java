package dev.lowbit.pipeline.rotate;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.hf.SideFiles;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.safetensors.SafetensorsWriter;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorSpec;
import dev.lowbit.io.safetensors.ShardedSafetensorsWriter;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import dev.lowbit.ptq.rotate.RotatedModelSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code lowbit quantize MODEL -o OUT --rotate --method none}: the R1 + R2 rotated model (norms folded, see
 * {@link dev.lowbit.ptq.rotate.ModelRotation}) as a plain Hugging Face checkpoint of the same architecture, in f32
 * (rounding rotated weights back to bf16 would break the invariance the rotation promises: QuaRot issue 8), so any
 * runtime and any lowbit quantizer or writer takes it.
 * <pre>
 *   open MODEL ─► RotatedModelSource (sizes checked before the output exists) ─► per tensor: rotated f32 rows,
 *   streamed into safetensors shards ─► config.json (tie_word_embeddings false, dtype float32), tokenizer files,
 *   recipe.json, lowbit-manifest.json (the seed) ─► rename into place
 * </pre>
 */
public final class RotatedCheckpoint {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** Shard size of the written checkpoint: transformers' default of 5 GB. */
    private static final long SHARD_BYTES = 5_000_000_000L;

    private RotatedCheckpoint() {}

    /** What was written. */
    public record Report(String output, long seed, boolean untied, int tensors, long bytes, double seconds) {
        public void print(java.io.PrintStream out) {
            out.printf("rotated checkpoint (R1 + R2, norms folded, seed %d, f32): %s%n", seed, output);
            out.printf("  tensors %d, %,d bytes, %.1f s%s%n", tensors, bytes, seconds,
                    untied ? "; tied embeddings untied (lm_head = embedding with the final norm folded, then R1)" : "");
        }

        public String toJson() {
            ObjectNode n = JSON.createObjectNode();
            n.put("output", output).put("rotate_seed", seed).put("untied", untied).put("tensors", tensors)
                    .put("bytes", bytes).put("seconds", seconds);
            return n.toString();
        }
    }

    /** The recipe a rotated checkpoint records: one {@code rotate} step and no quantizer. */
    public static String recipeJson(long seed) {
        ObjectNode r = JSON.createObjectNode();
        r.put("version", 2);
        ObjectNode step = r.putArray("steps").addObject();
        step.put("type", "rotate");
        step.put("seed", seed);
        step.put("online", false);
        r.putObject("output").put("format", "safetensors").put("dtype", "float32");
        r.put("seed", seed);
        try {
            return JSON.writeValueAsString(r) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes the rotated checkpoint of the Hugging Face directory {@code model} into {@code output}. */
    public static Report write(Path model, Path output, long seed, boolean force, java.util.function.Consumer<String> progress) {
        long t0 = System.nanoTime();
        if (ModelSource.isGguf(model)) {
            throw new BadInputException(model, "--rotate --method none reads a Hugging Face directory (a .gguf source has no tokenizer files to carry over)");
        }
        try (ModelSource source = ModelSource.open(model); RotatedModelSource rotated = RotatedModelSource.of(source, seed)) {
            List<Path> sideFiles = SideFiles.verified(model);
            SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("MODEL", model);
            try (SafeOutput out = SafeOutput.directory(output, force, inputs)) {
                try {
                    Path dir = out.path();
                    List<TensorSpec> specs = new ArrayList<>();
                    for (String name : rotated.tensorNames()) specs.add(spec(rotated, name, progress));
                    ShardedSafetensorsWriter.write(dir, specs, SHARD_BYTES,
                            SafetensorsWriter.Options.defaults().forTransformers().withOrder(SafetensorsWriter.Order.AS_GIVEN));
                    ObjectNode config = rotated.config().raw().deepCopy();
                    config.put("tie_word_embeddings", false);
                    if (config.has("torch_dtype") || !config.has("dtype")) config.put("torch_dtype", "float32");
                    if (config.has("dtype")) config.put("dtype", "float32");
                    Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(config) + "\n");
                    for (Path p : sideFiles) Files.copy(p, dir.resolve(p.getFileName().toString()));
                    String recipe = recipeJson(seed);
                    Files.writeString(dir.resolve("recipe.json"), recipe);
                    new Manifest(recipe, seed)
                            .input("model", modelFiles(model))
                            .figure("rotate_seed", seed)
                            .figure("untied_embeddings", rotated.untied())
                            .files(fileNames(dir))
                            .write(dir.resolve(Manifest.FILE_NAME));
                    long bytes = directoryBytes(dir);
                    out.commit();
                    return new Report(out.target().toString(), seed, rotated.untied(), specs.size(), bytes,
                            (System.nanoTime() - t0) / 1e9);
                } catch (IOException | RuntimeException e) {
                    throw out.failure(e);
                }
            }
        }
    }

    /** One rotated tensor as f32, produced chunk by chunk when the writer reaches it. */
    private static TensorSpec spec(ModelSource m, String name, java.util.function.Consumer<String> progress) {
        long[] shape = m.shape(name);
        long rows = m.rowCount(name);
        int len = m.rowLength(name);
        return new TensorSpec(name, DType.F32, Shape.of(shape), out -> {
            if (name.endsWith(".weight") && shape.length == 2) progress.accept("rotate " + name);
            int chunk = (int) Math.max(1, Math.min(rows, (1 << 18) / len));
            float[] values = new float[chunk * len];
            ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (long r = 0; r < rows; r += chunk) {
                int n = (int) Math.min(chunk, rows - r);
                m.readRows(name, r, n, values, 0);
                buf.clear();
                buf.asFloatBuffer().put(values, 0, n * len);
                buf.limit(n * len * 4);
                while (buf.hasRemaining()) out.write(buf);
            }
        });
    }

    private static List<Path> modelFiles(Path model) throws IOException {
        try (Stream<Path> s = Files.list(model)) {
            return s.filter(Files::isRegularFile).filter(p -> {
                String f = p.getFileName().toString();
                return f.endsWith(".safetensors") || f.equals("config.json") || f.endsWith(".index.json");
            }).sorted().toList();
        }
    }

    private static List<String> fileNames(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static long directoryBytes(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            long n = 0;
            for (Path p : s.toList()) n += Files.size(p);
            return n;
        }
    }

}
