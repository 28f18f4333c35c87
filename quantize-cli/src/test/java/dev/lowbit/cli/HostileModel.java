package dev.lowbit.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.safetensors.SafetensorsFile;
import dev.lowbit.io.safetensors.SafetensorsWriter;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * A temporary copy of {@code ../shared/models/tiny-llama-code} to edit with hostile changes. JSON files are copied;
 * shards start as links to the (read-only) shared files and become real copies the moment one is edited, so nothing
 * is ever written into {@code ../shared}.
 */
final class HostileModel {
    static final Path SHARED = SharedData.root();
    static final Path TINY = SharedData.tinyLlama();
    static final Path CALIB = SharedData.data("calib_code.txt");
    static final Path EVAL = SharedData.data("eval_code.txt");
    static final Path STORIES_F32 = SHARED.resolve("data/gguf/stories260K/stories260K-f32.gguf");
    private static final ObjectMapper JSON = new ObjectMapper();

    final Path dir;

    private HostileModel(Path dir) {
        this.dir = dir;
    }

    static HostileModel copyTo(Path dir) {
        try {
            Files.createDirectories(dir);
            try (var s = Files.list(TINY)) {
                for (Path p : s.toList()) {
                    Path to = dir.resolve(p.getFileName().toString());
                    if (p.toString().endsWith(".safetensors")) Files.createSymbolicLink(to, p.toAbsolutePath());
                    else Files.copy(p, to);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new HostileModel(dir);
    }

    HostileModel config(java.util.function.Consumer<ObjectNode> edit) {
        try {
            ObjectNode c = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
            edit.accept(c);
            Files.writeString(dir.resolve("config.json"), c.toPrettyString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    /** The shard file holding {@code tensor}, per the index. */
    String shardOf(String tensor) {
        try {
            return JSON.readTree(dir.resolve("model.safetensors.index.json").toFile()).path("weight_map").path(tensor).asText();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Rewrites the shard that holds {@code anchor}: {@code edit} gets that shard's tensors (heap copies, data order) and
     * returns the new list; the index follows (added tensors join this shard, removed ones leave the index).
     */
    HostileModel rewriteShard(String anchor, UnaryOperator<List<Tensor>> edit) {
        String shard = shardOf(anchor);
        Path p = dir.resolve(shard);
        List<Tensor> tensors = new ArrayList<>();
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            for (String n : f.names()) {
                Tensor t = f.tensor(n);
                tensors.add(new Tensor(n, t.dtype(), t.shape(), MemorySegment.ofArray(t.data().toArray(ValueLayout.JAVA_BYTE))));
            }
        }
        List<Tensor> out = edit.apply(tensors);
        List<SafetensorsWriter.TensorSpec> specs = out.stream().map(SafetensorsWriter.TensorSpec::of).toList();
        try {
            Files.delete(p); // a link to ../shared: replace it, never write through it
            SafetensorsWriter.write(p, specs, SafetensorsWriter.Options.defaults().forTransformers());
            ObjectNode index = (ObjectNode) JSON.readTree(dir.resolve("model.safetensors.index.json").toFile());
            ObjectNode wm = (ObjectNode) index.get("weight_map");
            for (Iterator<Map.Entry<String, com.fasterxml.jackson.databind.JsonNode>> it = wm.fields(); it.hasNext(); ) {
                if (it.next().getValue().asText().equals(shard)) it.remove();
            }
            for (Tensor t : out) wm.put(t.name(), shard);
            Files.writeString(dir.resolve("model.safetensors.index.json"), index.toPrettyString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    /** Replaces one tensor (same shard) with {@code edit}'s result. */
    HostileModel replace(String name, UnaryOperator<Tensor> edit) {
        return rewriteShard(name, ts -> ts.stream().map(t -> t.name().equals(name) ? edit.apply(t) : t).toList());
    }

    /** Sets flat element {@code i} of a BF16 tensor to {@code v} (rounded to bf16 by truncation). */
    HostileModel setBf16(String name, long i, float v) {
        return replace(name, t -> {
            if (t.dtype() != DType.BF16) throw new IllegalStateException(name + " is " + t.dtype());
            t.data().setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), i,
                    (short) (Float.floatToRawIntBits(v) >>> 16));
            return t;
        });
    }

    /** The same bytes under another dtype/shape (an I32 "weight", a 3-D Linear). */
    static Tensor retyped(Tensor t, DType dtype, long... shape) {
        return new Tensor(t.name(), dtype, new Shape(shape), t.data());
    }

    Path path() {
        return dir;
    }

    @Override
    public String toString() {
        return dir.toString();
    }
}
