package dev.lowbit.pipeline.output;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code lowbit-manifest.json}: what produced an artifact — the recipe, sha256 of every input file, the seed, tool
 * and runtime versions, and the figures measured. Deliberately free of wall-clock times and absolute paths so the
 * same input, recipe and seed give a byte-identical output directory; timings go to the console report instead.
 */
public final class Manifest {
    /** The manifest's name inside an output directory. */
    public static final String FILE_NAME = "lowbit-manifest.json";
    /** What a single-file output's manifest appends to the file's name: {@code x.gguf.lowbit-manifest.json}. */
    public static final String SIDECAR_SUFFIX = ".lowbit-manifest.json";
    private static final long MAX_MANIFEST_BYTES = 16L << 20;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    private final ObjectNode root = JSON.createObjectNode();
    private final Map<String, String> inputs = new TreeMap<>();
    private final Map<String, Object> figures = new TreeMap<>();

    public Manifest(String recipeJson, long seed) {
        root.put("tool", "lowbit");
        root.put("lowbit_version", version());
        root.put("seed", seed);
        try {
            root.set("recipe", JSON.readTree(recipeJson));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String version() {
        String v = Manifest.class.getPackage().getImplementationVersion();
        return v == null ? "0.1.0-SNAPSHOT" : v;
    }

    /** Records sha256 of each file under {@code label/<file name>}. */
    public Manifest input(String label, List<Path> files) {
        for (Path f : files) inputs.put(label + "/" + f.getFileName(), sha256(f));
        return this;
    }

    /** Records digests started by {@link #digestInBackground}, waiting for them if they are not finished. */
    public Manifest input(String label, Digests digests) {
        List<String> hex = digests.join();
        for (int i = 0; i < hex.size(); i++) inputs.put(label + "/" + digests.files.get(i).getFileName(), hex.get(i));
        return this;
    }

    /** sha256 of some files, computed on a daemon thread; {@link #join} waits and rethrows a read failure. */
    public static final class Digests {
        private final List<Path> files;
        private final java.util.concurrent.CompletableFuture<List<String>> result = new java.util.concurrent.CompletableFuture<>();

        private Digests(List<Path> files) {
            this.files = List.copyOf(files);
        }

        List<String> join() {
            try {
                return result.join();
            } catch (java.util.concurrent.CompletionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r;
                throw e;
            }
        }

        /** Rethrows what stopped the hashing thread (a read failure, or what its {@link RangeCheck} refused), if it stopped. */
        public void rethrowIfFailed() {
            if (result.isCompletedExceptionally()) join();
        }
    }

    /**
     * A check that rides on the hashing pass, so that a multi-gigabyte input is read once: it sees each file's bytes in
     * order, a range at a time, while they are in cache; an exception it throws fails the digests with it.
     */
    public interface RangeCheck {
        /**
         * File {@code index}'s bytes {@code [from, to)}: {@code bytes} holds the file from offset {@code base} on, up to
         * {@code to} and up to 7 bytes past it (the rest of an element that begins before {@code to}) where the file
         * has them.
         */
        void check(int index, MemorySegment bytes, long base, long from, long to);

        /** After the last range of the last file. */
        default void finish() {}
    }

    /**
     * Starts hashing {@code files} on a daemon thread, so that reading a multi-gigabyte checkpoint a second time overlaps
     * the quantization on a spare core instead of following it (a 7B checkpoint is 13.5 GB: tens of seconds of
     * SHA-256 at the end of every run otherwise).
     */
    public static Digests digestInBackground(List<Path> files) {
        return digestInBackground(files, null);
    }

    /** As {@link #digestInBackground(List)}, running {@code check} (if not null) over the bytes as they are hashed. */
    public static Digests digestInBackground(List<Path> files, RangeCheck check) {
        Digests d = new Digests(files);
        Thread.ofPlatform().daemon().name("lowbit-sha256").start(() -> {
            try {
                List<String> hex = new java.util.ArrayList<>();
                for (int i = 0; i < d.files.size(); i++) hex.add(sha256Mapped(d.files.get(i), i, check));
                if (check != null) check.finish();
                d.result.complete(hex);
            } catch (Throwable e) {
                d.result.completeExceptionally(e);
            }
        });
        return d;
    }

    /** Bytes hashed per step of {@link #sha256Mapped}: small enough that a {@link RangeCheck} finds them in cache. */
    private static final long HASH_STEP = 256 << 10;
    /** Hashed pages leave the resident set every this many bytes (a 13.5 GB model never becomes 13.5 GB of RSS). */
    private static final long RELEASE_STEP = 64L << 20;

    /**
     * sha256 of a file read through a mapping of its own (no read() system calls; SHA-256 itself runs on the CPU's SHA
     * extensions where HotSpot has them), a step at a time through one small heap buffer that the hash and the check
     * both read while it is in cache, the mapping's pages released behind the hash.
     */
    static String sha256Mapped(Path f, int index, RangeCheck check) {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            long size = ch.size();
            if (size > 0) {
                MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                byte[] buf = new byte[(int) HASH_STEP + 7];
                MemorySegment heap = MemorySegment.ofArray(buf);
                long released = 0;
                for (long at = 0; at < size; ) {
                    long end = Math.min(size, at + HASH_STEP);
                    int n = (int) (end - at), tail = (int) Math.min(7, size - end);
                    MemorySegment.copy(m, at, heap, 0, n + tail);
                    md.update(buf, 0, n);
                    if (check != null) check.check(index, heap.asSlice(0, n + tail), at, at, end);
                    at = end;
                    if (at - released >= RELEASE_STEP || at == size) {
                        m.asSlice(released, at - released).unload();
                        released = at;
                    }
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot hash " + f, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** For a single-file output: the file this manifest describes (by name, never a path), its size and sha256. */
    public Manifest output(String fileName, long bytes, String sha256) {
        root.put("output", fileName);
        root.put("output_bytes", bytes);
        root.put("output_sha256", sha256);
        return this;
    }

    /**
     * For an output directory: the names of every file lowbit put in it (this manifest included). A later
     * {@code --force} replaces the directory only while it holds nothing else, so files a user added are never lost.
     */
    public Manifest files(List<String> names) {
        java.util.TreeSet<String> all = new java.util.TreeSet<>(names);
        all.add(FILE_NAME);
        root.set("files", JSON.valueToTree(all));
        return this;
    }

    /** The {@code files} a directory's manifest lists, or empty when it lists none (written by an older lowbit). */
    static java.util.Optional<java.util.Set<String>> listedFiles(Path manifest) {
        try {
            var node = JSON.readTree(Files.readString(manifest)).path("files");
            if (!node.isArray()) return java.util.Optional.empty();
            java.util.Set<String> out = new java.util.TreeSet<>();
            node.forEach(n -> out.add(n.asText()));
            return java.util.Optional.of(out);
        } catch (IOException | RuntimeException e) {
            return java.util.Optional.empty();
        }
    }

    public Manifest figure(String name, Object value) {
        figures.put(name, value);
        return this;
    }

    public void write(Path file) {
        ObjectNode out = root.deepCopy();
        out.set("inputs_sha256", JSON.valueToTree(inputs));
        out.set("figures", JSON.valueToTree(figures));
        try {
            Files.writeString(file, JSON.writeValueAsString(out) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The sidecar manifest of a single-file output. */
    public static Path sidecarOf(Path file) {
        return file.resolveSibling(file.getFileName() + SIDECAR_SUFFIX);
    }

    /**
     * Whether {@code file} is a manifest lowbit wrote: a regular file (not followed through a link) holding a JSON
     * object whose {@code tool} is {@code lowbit}; a sidecar must also name the file beside it as its {@code output}.
     * This is what {@code --force} requires before it replaces anything.
     */
    public static boolean isLowbitManifest(Path file) {
        try {
            var attrs = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class,
                    java.nio.file.LinkOption.NOFOLLOW_LINKS);
            if (!attrs.isRegularFile() || attrs.size() > MAX_MANIFEST_BYTES) return false;
            var node = JSON.readTree(Files.readString(file));
            if (node == null || !node.isObject() || !"lowbit".equals(node.path("tool").asText(null))) return false;
            String name = file.getFileName().toString();
            if (name.endsWith(SIDECAR_SUFFIX) && !name.equals(FILE_NAME)) {
                return name.equals(node.path("output").asText("") + SIDECAR_SUFFIX);
            }
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    public static String sha256(Path f) {
        try (InputStream in = Files.newInputStream(f)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot hash " + f, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
