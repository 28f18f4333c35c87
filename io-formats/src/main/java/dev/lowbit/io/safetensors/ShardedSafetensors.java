package dev.lowbit.io.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint split across several safetensors files, joined by {@code model.safetensors.index.json}
 * ({@code {"metadata": {...}, "weight_map": {tensor: file}}}). Also opens a directory holding a single
 * {@code model.safetensors}. Shards are mapped lazily and stay mapped until {@link #close()}.
 */
public final class ShardedSafetensors implements TensorSource {
    public static final String INDEX = "model.safetensors.index.json";

    private final Path dir;
    private final Map<String, String> weightMap; // tensor -> shard file name
    private final Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
    private final List<String> order;

    private ShardedSafetensors(Path dir, Map<String, String> weightMap, List<String> order) {
        this.dir = dir;
        this.weightMap = weightMap;
        this.order = order;
    }

    /** Opens a directory (index or single {@code model.safetensors}), an index file, or one safetensors file. */
    public static TensorSource open(Path path) {
        if (Files.isRegularFile(path) && path.getFileName().toString().endsWith(".safetensors")) {
            return SafetensorsFile.open(path);
        }
        Path index = Files.isDirectory(path) ? path.resolve(INDEX) : path;
        Path dir = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
        if (!Files.isRegularFile(index)) {
            Path single = dir.resolve("model.safetensors");
            if (Files.isRegularFile(single)) return SafetensorsFile.open(single);
            throw new BadInputException(path, "no model.safetensors or " + INDEX + " found");
        }
        JsonNode root;
        try {
            root = SafetensorsFile.JSON.readTree(Files.readString(index));
        } catch (IOException e) {
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().split("\n")[0];
            throw new BadInputException(index, "cannot parse: " + why);
        }
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) throw new BadInputException(index, "no weight_map object");
        Map<String, String> map = new LinkedHashMap<>();
        List<String> order = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual() || e.getValue().textValue().isEmpty()) {
                throw new BadInputException(index, "weight_map entry " + SafetensorsFile.quote(e.getKey()) + " is not a file name");
            }
            String file = e.getValue().textValue();
            if (file.contains("/") || file.contains("\\") || file.startsWith(".")) {
                throw new BadInputException(index, "weight_map entry " + SafetensorsFile.quote(e.getKey())
                        + " points outside the directory: " + SafetensorsFile.quote(file));
            }
            map.put(e.getKey(), file);
        }
        ShardedSafetensors s = new ShardedSafetensors(dir, map, order);
        // Tensor order: shard by shard in file-name order, each shard in header order (deterministic, like the files).
        try {
            for (String file : map.values().stream().distinct().sorted().toList()) {
                SafetensorsFile f = s.shard(file);
                for (String name : f.names()) {
                    String owner = map.get(name);
                    if (owner == null) throw new BadInputException(f.path(), "tensor " + SafetensorsFile.quote(name) + " is not in " + INDEX);
                    if (!owner.equals(file)) {
                        throw new BadInputException(f.path(), "duplicate tensor " + SafetensorsFile.quote(name)
                                + ": " + INDEX + " places it in " + owner);
                    }
                    order.add(name);
                }
            }
            for (String name : map.keySet()) {
                if (!s.shard(map.get(name)).contains(name)) {
                    throw new BadInputException(dir.resolve(map.get(name)), "tensor " + SafetensorsFile.quote(name)
                            + " listed in " + INDEX + " is missing");
                }
            }
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    private SafetensorsFile shard(String file) {
        return shards.computeIfAbsent(file, f -> SafetensorsFile.open(dir.resolve(f)));
    }

    /** The shard files in use, in name order. */
    public List<SafetensorsFile> shards() {
        return List.copyOf(shards.values());
    }

    @Override
    public List<String> names() {
        return List.copyOf(order);
    }

    @Override
    public boolean contains(String name) {
        return weightMap.containsKey(name);
    }

    @Override
    public Tensor tensor(String name) {
        String file = weightMap.get(name);
        if (file == null) throw new BadInputException(dir.resolve(INDEX), "no tensor named " + SafetensorsFile.quote(name));
        return shard(file).tensor(name);
    }

    @Override
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        for (SafetensorsFile f : shards.values()) m.putAll(f.metadata());
        return m;
    }

    @Override
    public void releasePages() {
        for (SafetensorsFile f : shards.values()) f.releasePages();
    }

    @Override
    public void close() {
        for (SafetensorsFile f : shards.values()) f.close();
        shards.clear();
    }
}
