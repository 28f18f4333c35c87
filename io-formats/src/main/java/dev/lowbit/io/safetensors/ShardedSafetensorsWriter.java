package dev.lowbit.io.safetensors;

import dev.lowbit.io.safetensors.SafetensorsWriter.Options;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a checkpoint the way transformers' {@code save_pretrained} does: tensors split greedily by a maximum shard
 * size into {@code model-0000X-of-0000N.safetensors} plus {@code model.safetensors.index.json}
 * ({@code {"metadata": {"total_parameters": p, "total_size": n}, "weight_map": {tensor: file}}}, keys sorted, indent 2,
 * as Python's {@code json.dumps(..., indent=2, sort_keys=True)} writes it). A checkpoint that fits one shard is written
 * as a single {@code model.safetensors} with no index.
 *
 * <p>Splitting follows huggingface_hub's {@code split_state_dict_into_shards}: walk the tensors in the caller's order;
 * a tensor larger than the limit gets a shard of its own (appended at once, ahead of the shard being filled); otherwise
 * a tensor that would push the current shard over the limit starts a new one. Within a shard the
 * {@link SafetensorsWriter.Options#order()} applies (reference order by default, as {@code safe_save_file} does).
 *
 * <p>All shards are written to temp files first and renamed into place, index last, only when every one is complete;
 * on failure the temp files are deleted. Overwriting leaves shard files of an older, differently split checkpoint
 * in place (the new index no longer names them).
 */
public final class ShardedSafetensorsWriter {
    private ShardedSafetensorsWriter() {}

    /** What was written: shard files in order, the index (null for a single file), and the weight map. */
    public record Result(List<Path> shards, Path index, long totalSize, long totalParameters, Map<String, String> weightMap) {}

    /**
     * Writes {@code tensors} into {@code dir} as {@code model*.safetensors} shards of at most {@code maxShardBytes} of
     * tensor data each (a single larger tensor gets its own shard).
     */
    public static Result write(Path dir, List<TensorSpec> tensors, long maxShardBytes, Options options) throws IOException {
        return write(dir, "model", tensors, maxShardBytes, options);
    }

    /** As {@link #write(Path, List, long, Options)} with another file name stem than {@code model}. */
    public static Result write(Path dir, String stem, List<TensorSpec> tensors, long maxShardBytes, Options options)
            throws IOException {
        if (maxShardBytes <= 0) throw new IllegalArgumentException("max shard size must be positive: " + maxShardBytes);
        if (options.headerOrder() != null) throw new IllegalArgumentException("headerOrder applies to single files only");
        SafetensorsWriter.dataOrder(tensors, SafetensorsWriter.Order.AS_GIVEN); // validate names once, up front
        List<List<TensorSpec>> shards = split(tensors, maxShardBytes);
        int n = shards.size();
        List<Path> targets = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            targets.add(dir.resolve(n == 1 ? stem + ".safetensors" : String.format("%s-%05d-of-%05d.safetensors", stem, i + 1, n)));
        }
        Path index = n == 1 ? null : dir.resolve(stem + ".safetensors.index.json");
        for (Path t : targets) SafetensorsWriter.refuseExisting(t, options.overwrite());
        if (index != null) SafetensorsWriter.refuseExisting(index, options.overwrite());

        Map<String, String> weightMap = new TreeMap<>(JsonText::compareCodePoints);
        long totalSize = 0, totalParameters = 0;
        for (int i = 0; i < n; i++) {
            for (TensorSpec t : shards.get(i)) {
                weightMap.put(t.name(), targets.get(i).getFileName().toString());
                totalSize += t.byteSize();
                totalParameters += t.shape().elementCount();
            }
        }

        List<Path> temps = new ArrayList<>();
        List<Path> committed = new ArrayList<>();
        boolean ok = false;
        try {
            for (int i = 0; i < n; i++) temps.add(SafetensorsWriter.writeTemp(targets.get(i), shards.get(i), options));
            Path indexTmp = null;
            if (index != null) {
                indexTmp = dir.resolve("." + index.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
                temps.add(indexTmp);
                Files.write(indexTmp, indexJson(totalParameters, totalSize, weightMap).getBytes(StandardCharsets.UTF_8),
                        StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            }
            for (int i = 0; i < n; i++) {
                SafetensorsWriter.commit(temps.get(i), targets.get(i), options.overwrite());
                committed.add(targets.get(i));
            }
            if (index != null) SafetensorsWriter.commit(indexTmp, index, options.overwrite());
            ok = true;
        } finally {
            for (Path t : temps) Files.deleteIfExists(t);
            if (!ok && !options.overwrite()) {
                for (Path c : committed) Files.deleteIfExists(c); // ours: without overwrite they did not exist before
            }
        }
        return new Result(List.copyOf(targets), index, totalSize, totalParameters, Collections.unmodifiableMap(weightMap));
    }

    /** huggingface_hub's greedy split, see the class comment. */
    static List<List<TensorSpec>> split(List<TensorSpec> tensors, long max) {
        List<List<TensorSpec>> shards = new ArrayList<>();
        List<TensorSpec> current = new ArrayList<>();
        long currentSize = 0;
        for (TensorSpec t : tensors) {
            long size = t.byteSize();
            if (size > max) {
                shards.add(List.of(t));
                continue;
            }
            if (currentSize + size > max) {
                shards.add(current);
                current = new ArrayList<>();
                currentSize = 0;
            }
            current.add(t);
            currentSize += size;
        }
        if (!current.isEmpty() || shards.isEmpty()) shards.add(current);
        return shards;
    }

    /** The index exactly as {@code json.dumps(index, indent=2, sort_keys=True) + "\n"} spells it. */
    static String indexJson(long totalParameters, long totalSize, Map<String, String> sortedWeightMap) {
        StringBuilder b = new StringBuilder();
        b.append("{\n  \"metadata\": {\n");
        b.append("    \"total_parameters\": ").append(totalParameters).append(",\n");
        b.append("    \"total_size\": ").append(totalSize).append("\n  },\n");
        b.append("  \"weight_map\": {");
        boolean first = true;
        for (Map.Entry<String, String> e : sortedWeightMap.entrySet()) {
            b.append(first ? "\n    " : ",\n    ");
            first = false;
            JsonText.pythonString(b, e.getKey());
            b.append(": ");
            JsonText.pythonString(b, e.getValue());
        }
        b.append(first ? "}" : "\n  }").append("\n}\n");
        return b.toString();
    }

    /** A size like transformers' {@code max_shard_size}: bytes, or a number with KB/MB/GB (powers of 1000) or KiB/MiB/GiB. */
    public static long parseSize(String s) {
        String t = s.trim().toUpperCase(java.util.Locale.ROOT);
        Map<String, Long> units = new LinkedHashMap<>();
        units.put("KIB", 1L << 10);
        units.put("MIB", 1L << 20);
        units.put("GIB", 1L << 30);
        units.put("TIB", 1L << 40);
        units.put("KB", 1_000L);
        units.put("MB", 1_000_000L);
        units.put("GB", 1_000_000_000L);
        units.put("TB", 1_000_000_000_000L);
        units.put("B", 1L);
        for (Map.Entry<String, Long> u : units.entrySet()) {
            if (t.endsWith(u.getKey())) {
                String num = t.substring(0, t.length() - u.getKey().length()).trim();
                return Math.round(Double.parseDouble(num) * u.getValue());
            }
        }
        return Long.parseLong(t);
    }
}
