package dev.lowbit.io.safetensors;

import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Streams tensors into one safetensors file: {@code u64 N}, N bytes of JSON header padded with spaces to a multiple
 * of 8 (as the reference writer does), then each tensor's bytes back to back.
 *
 * <p>Only the specs (name, dtype, shape) are needed up front, to lay out the header; each tensor's bytes are asked
 * for when its turn comes ({@link TensorData}), so a checkpoint never has to sit in memory whole.
 *
 * <p><b>Order.</b> {@link Order#REFERENCE} (the default) is the reference writer's: descending dtype alignment
 * (the Rust {@code Dtype} enum order: I64, F64, F32, I32, BF16, F16, I16, F8_E4M3, F8_E5M2, I8, U8, BOOL), then name
 * in code point order; header entries and data follow the same order, {@code __metadata__} first.
 * {@link Order#AS_GIVEN} keeps the caller's list order for the data and, unless {@link Options#headerOrder()} says
 * otherwise, for the header; together with {@link #specsInDataOrder} and {@link #layoutOf} it reproduces a
 * reference-written file byte for byte.
 *
 * <p><b>Atomicity.</b> Bytes go to a hidden temp file in the target's directory, which is forced to disk and renamed
 * into place only when complete; on any failure the temp file is deleted and nothing is left behind. An existing
 * target is refused unless {@link Options#overwrite()}.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {}

    /** Produces one tensor's bytes, exactly {@link TensorSpec#byteSize()} of them, into {@code out}. */
    @FunctionalInterface
    public interface TensorData {
        void writeTo(WritableByteChannel out) throws IOException;

        /** Bytes already in a segment (a slice of a mapped file, a heap array). */
        static TensorData of(MemorySegment bytes) {
            return out -> writeSegment(bytes, out);
        }

        /** Bytes produced by a callback that prefers an {@link OutputStream} (buffered; flushed when it returns). */
        static TensorData ofStream(StreamWriter writer) {
            return out -> {
                OutputStream os = new BufferedOutputStream(Channels.newOutputStream(out), 1 << 16);
                writer.writeTo(os);
                os.flush(); // not close(): the channel belongs to the writer
            };
        }
    }

    /** A tensor's bytes written to a stream; see {@link TensorData#ofStream}. */
    @FunctionalInterface
    public interface StreamWriter {
        void writeTo(OutputStream out) throws IOException;
    }

    /** One tensor to write: its header entry and where its bytes come from. */
    public record TensorSpec(String name, DType dtype, Shape shape, TensorData data) {
        public TensorSpec {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(dtype, "dtype");
            Objects.requireNonNull(shape, "shape");
            Objects.requireNonNull(data, "data");
        }

        /** A spec streaming an existing tensor's bytes. */
        public static TensorSpec of(Tensor t) {
            return new TensorSpec(t.name(), t.dtype(), t.shape(), TensorData.of(t.data()));
        }

        /** product(shape) × element size, in whole bytes. */
        public long byteSize() {
            return dtype.byteSizeOf(shape.elementCount());
        }
    }

    /** Where tensors go in the header and the data section. */
    public enum Order { REFERENCE, AS_GIVEN }

    /**
     * How to write.
     *
     * @param metadata     {@code __metadata__} entries, written in map order (omitted when empty)
     * @param transformers add {@code "format": "pt"} to the metadata, which transformers expects
     * @param order        tensor order, see the class comment
     * @param headerOrder  with {@link Order#AS_GIVEN}: the header's tensor order when it differs from the data order
     *                     (a permutation of the names); null = the data order
     * @param overwrite    replace an existing file
     */
    public record Options(Map<String, String> metadata, boolean transformers, Order order, List<String> headerOrder,
                          boolean overwrite) {
        public Options {
            metadata = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(metadata, "metadata")));
            Objects.requireNonNull(order, "order");
            headerOrder = headerOrder == null ? null : List.copyOf(headerOrder);
            if (headerOrder != null && order != Order.AS_GIVEN) {
                throw new IllegalArgumentException("headerOrder needs Order.AS_GIVEN");
            }
        }

        public static Options defaults() {
            return new Options(Map.of(), false, Order.REFERENCE, null, false);
        }

        public Options withMetadata(Map<String, String> m) {
            return new Options(m, transformers, order, headerOrder, overwrite);
        }

        public Options forTransformers() {
            return new Options(metadata, true, order, headerOrder, overwrite);
        }

        public Options withOrder(Order o) {
            return new Options(metadata, transformers, o, o == Order.AS_GIVEN ? headerOrder : null, overwrite);
        }

        public Options withHeaderOrder(List<String> names) {
            return new Options(metadata, transformers, Order.AS_GIVEN, names, overwrite);
        }

        public Options allowOverwrite() {
            return new Options(metadata, transformers, order, headerOrder, true);
        }

        /** The metadata as written: {@code format} set to {@code pt} when writing for transformers. */
        Map<String, String> effectiveMetadata() {
            if (!transformers) return metadata;
            Map<String, String> m = new LinkedHashMap<>(metadata);
            m.put("format", "pt");
            return m;
        }
    }

    /**
     * Writes {@code tensors} to {@code target}; returns the file size.
     *
     * @throws FileAlreadyExistsException when the target exists and overwriting was not allowed
     * @throws IOException                on I/O failure or when a tensor's data callback fails or writes the wrong
     *                                    number of bytes; the target is then untouched and no temp file remains
     */
    public static long write(Path target, List<TensorSpec> tensors, Options options) throws IOException {
        refuseExisting(target, options.overwrite());
        Path tmp = writeTemp(target, tensors, options);
        try {
            commit(tmp, target, options.overwrite());
        } finally {
            Files.deleteIfExists(tmp);
        }
        return Files.size(target);
    }

    /** Specs for every tensor of {@code file}, in data-offset order, streaming from its mapping. */
    public static List<TensorSpec> specsInDataOrder(SafetensorsFile file) {
        return file.entries().values().stream()
                .sorted(Comparator.comparingLong(SafetensorsFile.Entry::begin).thenComparingLong(SafetensorsFile.Entry::end))
                .map(e -> TensorSpec.of(file.tensor(e.name())))
                .toList();
    }

    /** Options that keep {@code file}'s metadata and header order (use with {@link #specsInDataOrder}). */
    public static Options layoutOf(SafetensorsFile file) {
        return Options.defaults().withMetadata(file.metadata()).withHeaderOrder(file.names());
    }

    /** Specs for every tensor of a source, in its {@link TensorSource#names()} order. */
    public static List<TensorSpec> specsOf(TensorSource source) {
        return source.names().stream().map(n -> TensorSpec.of(source.tensor(n))).toList();
    }

    // ---- package-private steps, shared with ShardedSafetensorsWriter ----

    static void refuseExisting(Path target, boolean overwrite) throws IOException {
        if (!overwrite && Files.exists(target)) {
            throw new FileAlreadyExistsException(target.toString(), null, "exists; pass overwrite to replace it");
        }
    }

    /** Writes the whole file into a temp file next to {@code target} and returns it; deletes it on failure. */
    static Path writeTemp(Path target, List<TensorSpec> tensors, Options options) throws IOException {
        List<TensorSpec> data = dataOrder(tensors, options.order());
        byte[] header = header(data, headerOrder(data, options), options.effectiveMetadata());
        Path dir = target.toAbsolutePath().getParent();
        // not Files.createTempFile: that one is owner-only (0600) and the renamed file would keep those permissions
        Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        boolean ok = false;
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            writeFully(ch, len);
            writeFully(ch, ByteBuffer.wrap(header));
            for (TensorSpec t : data) {
                BoundedChannel out = new BoundedChannel(ch, t.name(), t.byteSize());
                t.data().writeTo(out);
                out.checkComplete();
            }
            ch.force(true);
            ok = true;
            return tmp;
        } finally {
            if (!ok) Files.deleteIfExists(tmp);
        }
    }

    /** Renames a finished temp file into place. */
    static void commit(Path tmp, Path target, boolean overwrite) throws IOException {
        refuseExisting(target, overwrite);
        if (overwrite) Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        else Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
    }

    static List<TensorSpec> dataOrder(List<TensorSpec> tensors, Order order) {
        Set<String> seen = new HashSet<>();
        for (TensorSpec t : tensors) {
            if (t.name().equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is reserved, not a tensor name");
            if (!JsonText.isWellFormed(t.name())) throw new IllegalArgumentException("tensor name is not valid Unicode: " + t.name());
            if (!seen.add(t.name())) throw new IllegalArgumentException("duplicate tensor name '" + t.name() + "'");
            t.byteSize(); // ArithmeticException on an overflowing shape, before anything is written
        }
        if (order == Order.AS_GIVEN) return List.copyOf(tensors);
        List<TensorSpec> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.<TensorSpec>comparingInt(t -> -referenceRank(t.dtype()))
                .thenComparing(TensorSpec::name, JsonText::compareCodePoints));
        return sorted;
    }

    /** Position of a dtype in the reference implementation's {@code Dtype} enum, which orders by alignment. */
    static int referenceRank(DType t) {
        return switch (t) {
            case BOOL -> 0;
            case U8 -> 4;
            case I8 -> 5;
            case F8_E5M2 -> 6;
            case F8_E4M3 -> 7;
            case I16 -> 9;
            case F16 -> 11;
            case BF16 -> 12;
            case I32 -> 13;
            case F32 -> 15;
            case F64 -> 17;
            case I64 -> 18;
        };
    }

    private static List<String> headerOrder(List<TensorSpec> data, Options options) {
        List<String> names = data.stream().map(TensorSpec::name).toList();
        if (options.headerOrder() == null) return names;
        List<String> h = options.headerOrder();
        if (h.size() != names.size() || !new HashSet<>(h).equals(new HashSet<>(names))) {
            throw new IllegalArgumentException("headerOrder must list exactly the tensors' names");
        }
        return h;
    }

    /** The header bytes, space-padded to a multiple of 8, in serde_json's compact spelling. */
    static byte[] header(List<TensorSpec> data, List<String> headerOrder, Map<String, String> metadata) {
        Map<String, long[]> offsets = new LinkedHashMap<>();
        Map<String, TensorSpec> byName = new LinkedHashMap<>();
        long offset = 0;
        for (TensorSpec t : data) {
            long end = Math.addExact(offset, t.byteSize());
            offsets.put(t.name(), new long[] {offset, end});
            byName.put(t.name(), t);
            offset = end;
        }
        StringBuilder b = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            b.append("\"__metadata__\":{");
            boolean first = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (!first) b.append(',');
                first = false;
                JsonText.serdeString(b, Objects.requireNonNull(e.getKey(), "metadata key"));
                b.append(':');
                JsonText.serdeString(b, Objects.requireNonNull(e.getValue(), "metadata value"));
            }
            b.append('}');
        }
        for (String name : headerOrder) {
            if (b.length() > 1) b.append(',');
            TensorSpec t = byName.get(name);
            long[] o = offsets.get(name);
            JsonText.serdeString(b, name);
            b.append(":{\"dtype\":\"").append(t.dtype().wireName()).append("\",\"shape\":[");
            long[] dims = t.shape().dims();
            for (int i = 0; i < dims.length; i++) {
                if (i > 0) b.append(',');
                b.append(dims[i]);
            }
            b.append("],\"data_offsets\":[").append(o[0]).append(',').append(o[1]).append("]}");
        }
        b.append('}');
        byte[] json = b.toString().getBytes(StandardCharsets.UTF_8);
        int padded = Math.toIntExact(Math.ceilDiv((long) json.length, 8L) * 8);
        if (padded > SafetensorsFile.MAX_HEADER) {
            throw new IllegalArgumentException("header of " + padded + " bytes exceeds the reference limit of " + SafetensorsFile.MAX_HEADER);
        }
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    static void writeFully(WritableByteChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }

    /** Writes a segment in chunks (a {@link ByteBuffer} view is limited to 2 GiB). */
    static void writeSegment(MemorySegment seg, WritableByteChannel out) throws IOException {
        // native and byte[]-backed segments have a ByteBuffer view; other heap arrays are copied a MiB at a time
        boolean view = seg.heapBase().map(a -> a instanceof byte[]).orElse(true);
        long chunk = view ? 1L << 30 : 1L << 20;
        for (long off = 0; off < seg.byteSize(); off += chunk) {
            MemorySegment part = seg.asSlice(off, Math.min(chunk, seg.byteSize() - off));
            writeFully(out, view ? part.asByteBuffer() : ByteBuffer.wrap(part.toArray(ValueLayout.JAVA_BYTE)));
        }
    }

    /** Passes writes through while counting them; refuses to go past the tensor's size. */
    private static final class BoundedChannel implements WritableByteChannel {
        private final WritableByteChannel out;
        private final String name;
        private final long size;
        private long written;

        BoundedChannel(WritableByteChannel out, String name, long size) {
            this.out = out;
            this.name = name;
            this.size = size;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            if (written + src.remaining() > size) {
                throw new IOException("tensor '" + name + "' data is longer than its " + size + " bytes");
            }
            int n = out.write(src);
            written += n;
            return n;
        }

        void checkComplete() throws IOException {
            if (written != size) {
                throw new IOException("tensor '" + name + "' data gave " + written + " of its " + size + " bytes");
            }
        }

        @Override
        public boolean isOpen() {
            return out.isOpen();
        }

        @Override
        public void close() {
            // the file channel belongs to the writer
        }
    }
}
