package dev.lowbit.io.gguf;

import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Builds a GGUF v3 file: typed metadata KVs, then tensors whose bytes are streamed at write time.
 *
 * <p>Layout, as llama.cpp writes and requires it: header, KVs in insertion order, tensor infos in insertion order,
 * zero padding up to the next multiple of the alignment ({@code general.alignment} when set, else 32; only when there
 * are tensors), then each tensor's bytes followed by zero padding to the alignment — the last one included — so that
 * tensor offset k = Σ_{i<k} alignUp(size_i).
 *
 * <p>{@link #write(Path, boolean)} writes a temporary file in the target's directory and moves it into place only when
 * complete; an existing file is replaced only when asked.
 */
public final class GgufWriter {
    /** llama.cpp's GGML_MAX_NAME is 64 including the terminating NUL. */
    public static final int MAX_TENSOR_NAME_BYTES = 63;
    private static final int CHUNK = 1 << 24;

    /** Produces a tensor's bytes at write time: must write exactly the tensor's byte size to {@code out}. */
    @FunctionalInterface
    public interface TensorData {
        void writeTo(WritableByteChannel out) throws IOException;
    }

    private record PendingTensor(String name, long[] dims, GgmlType type, long byteSize, TensorData data) {}

    private final Map<String, GgufValue> kv = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();
    private final Map<String, Boolean> tensorNames = new LinkedHashMap<>();

    /** Sets metadata {@code key} (a later call replaces the value but keeps the key's position). */
    public GgufWriter put(String key, GgufValue value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        if (value.type() == GgufValueType.ARRAY && value.asArray().elementType() == GgufValueType.ARRAY) {
            throw new IllegalArgumentException("metadata '" + key + "': nested arrays are rejected by ggml's reader");
        }
        if (key.equals(GgufFile.ALIGNMENT_KEY)) {
            if (value.type() != GgufValueType.UINT32) throw new IllegalArgumentException(key + " must be UINT32");
            long a = value.asLong();
            if (a == 0 || (a & (a - 1)) != 0 || a > (1 << 30)) throw new IllegalArgumentException(key + " = " + a + " is not a power of two");
        }
        kv.put(key, value);
        return this;
    }

    public GgufWriter putString(String key, String v) {
        return put(key, GgufValue.ofString(v));
    }

    public GgufWriter putUint32(String key, long v) {
        return put(key, GgufValue.ofUint32(v));
    }

    public GgufWriter putFloat32(String key, float v) {
        return put(key, GgufValue.ofFloat32(v));
    }

    public GgufWriter putBool(String key, boolean v) {
        return put(key, GgufValue.ofBool(v));
    }

    /** Adds a tensor whose bytes are {@code data} (copied to the file at write time; must stay valid until then). */
    public GgufWriter addTensor(String name, long[] dims, GgmlType type, MemorySegment data) {
        long size = checkTensor(name, dims, type);
        if (data.byteSize() != size) {
            throw new IllegalArgumentException("tensor '" + name + "': " + data.byteSize() + " bytes given, " + type + " "
                    + java.util.Arrays.toString(dims) + " needs " + size);
        }
        tensors.add(new PendingTensor(name, dims.clone(), type, size, out -> writeSegment(out, data)));
        return this;
    }

    /** Adds a tensor whose bytes {@code data} writes at write time (streaming: nothing is held in memory). */
    public GgufWriter addTensor(String name, long[] dims, GgmlType type, TensorData data) {
        long size = checkTensor(name, dims, type);
        tensors.add(new PendingTensor(name, dims.clone(), type, size, Objects.requireNonNull(data)));
        return this;
    }

    /**
     * Adds {@code source} (any dense dtype, PyTorch shape) encoded as {@code type} with {@link BlockCodecs}: GGUF dims
     * are the shape reversed, and rows of dims[0] elements are decoded to f32 and quantized at write time, a chunk of
     * rows at a time, so nothing proportional to the tensor is held in memory.
     */
    public GgufWriter addTensor(String name, GgmlType type, Tensor source) {
        long[] shape = source.shape().dims();
        long[] dims = new long[shape.length];
        for (int i = 0; i < shape.length; i++) dims[i] = shape[shape.length - 1 - i];
        BlockCodec codec = BlockCodecs.forType(type);
        long size = checkTensor(name, dims, type);
        int row = Math.toIntExact(dims.length == 0 ? 1 : dims[0]);
        long rows = row == 0 ? 0 : source.elementCount() / row;
        long rowBytes = row == 0 ? 0 : codec.rowBytes(row);
        tensors.add(new PendingTensor(name, dims, type, size, out -> {
            int rowsPerChunk = (int) Math.max(1, Math.min(rows, CHUNK / Math.max(1, Math.max(rowBytes, 4L * row))));
            float[] x = new float[Math.multiplyExact(rowsPerChunk, row)];
            byte[] buf = new byte[Math.toIntExact(rowsPerChunk * rowBytes)];
            MemorySegment seg = MemorySegment.ofArray(buf);
            for (long r = 0; r < rows; r += rowsPerChunk) {
                int k = (int) Math.min(rowsPerChunk, rows - r);
                source.toFloats(r * row, x, 0, k * row);
                for (int i = 0; i < k; i++) codec.quantizeRow(x, i * row, row, seg, i * rowBytes);
                writeFully(out, ByteBuffer.wrap(buf, 0, (int) (k * rowBytes)));
            }
        }));
        return this;
    }

    /** A writer holding every KV and tensor of {@code f} in file order (tensor bytes read from its mapping). */
    public static GgufWriter copyOf(GgufFile f) {
        GgufWriter w = new GgufWriter();
        f.kv().forEach(w::put);
        for (GgufTensorInfo t : f.tensorInfos()) w.addTensor(t.name(), t.dims(), t.type(), f.data(t));
        return w;
    }

    private long checkTensor(String name, long[] dims, GgmlType type) {
        Objects.requireNonNull(type, "type");
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_TENSOR_NAME_BYTES) {
            throw new IllegalArgumentException("tensor name '" + name + "' is longer than " + MAX_TENSOR_NAME_BYTES
                    + " bytes (llama.cpp's limit)");
        }
        if (tensorNames.containsKey(name)) throw new IllegalArgumentException("duplicate tensor '" + name + "'");
        if (dims.length > GgufFile.MAX_DIMS) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + dims.length + " dimensions (at most 4)");
        }
        long n = 1;
        for (long d : dims) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "' has a negative dimension");
            n = Math.multiplyExact(n, d);
        }
        long row = dims.length == 0 ? 1 : dims[0];
        if (row % type.blockSize() != 0) {
            throw new IllegalArgumentException("tensor '" + name + "' dims[0] = " + row + " is not a multiple of the " + type
                    + " block size " + type.blockSize());
        }
        tensorNames.put(name, Boolean.TRUE);
        return type.byteSizeOf(n);
    }

    private int alignment() {
        GgufValue a = kv.get(GgufFile.ALIGNMENT_KEY);
        return a == null ? GgufFile.DEFAULT_ALIGNMENT : a.asInt();
    }

    /** Writes to {@code path}, refusing to replace an existing file. */
    public void write(Path path) throws IOException {
        write(path, false);
    }

    /**
     * Writes the file to a temporary sibling of {@code path} and moves it into place when complete.
     *
     * @param overwrite replace {@code path} if it exists; otherwise an existing file gives {@link FileAlreadyExistsException}
     */
    public void write(Path path, boolean overwrite) throws IOException {
        Path target = path.toAbsolutePath();
        if (!overwrite && Files.exists(target)) throw new FileAlreadyExistsException(target.toString());
        Path dir = target.getParent();
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        boolean done = false;
        try {
            try {
                // createTempFile makes the file private (0600); a model file is as readable as any other
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException notPosix) {
                // keep the platform default
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeTo(ch);
                ch.force(true);
            }
            if (overwrite) {
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
                }
            } else {
                publishNew(tmp, target);
            }
            done = true;
        } finally {
            if (!done) Files.deleteIfExists(tmp);
        }
    }

    /** Puts {@code tmp} at {@code target} only if nothing is there: a hard link fails atomically when it exists. */
    private static void publishNew(Path tmp, Path target) throws IOException {
        try {
            Files.createLink(target, tmp);
            Files.delete(tmp);
        } catch (UnsupportedOperationException e) {
            if (Files.exists(target)) throw new FileAlreadyExistsException(target.toString());
            Files.move(tmp, target);
        }
    }

    /**
     * Declares a tensor whose bytes the caller writes itself, at {@link #dataOffset} past the header that
     * {@link #writeHeader} wrote (a streaming writer that finishes tensors out of file order). {@link #writeTo} refuses
     * a writer with declared tensors.
     */
    public GgufWriter declareTensor(String name, long[] dims, GgmlType type) {
        long size = checkTensor(name, dims, type);
        tensors.add(new PendingTensor(name, dims.clone(), type, size, null));
        return this;
    }

    /** Writes the whole file image to {@code out}. */
    public void writeTo(WritableByteChannel out) throws IOException {
        int alignment = alignment();
        writeHeader(out);
        for (PendingTensor t : tensors) {
            if (t.data == null) throw new IllegalStateException("tensor '" + t.name + "' was declared, not added: write it with dataOffset()");
            CountingChannel counter = new CountingChannel(out);
            t.data.writeTo(counter);
            if (counter.count != t.byteSize) {
                throw new IllegalStateException("tensor '" + t.name + "': source wrote " + counter.count + " bytes, expected "
                        + t.byteSize);
            }
            long pad = GgufFile.alignUp(t.byteSize, alignment) - t.byteSize;
            if (pad > 0) writeFully(out, ByteBuffer.allocate((int) pad));
        }
    }

    /**
     * Writes the header — magic, version, counts, metadata, tensor infos with their offsets, padding to the
     * alignment — and returns its size in bytes: the file position where tensor data starts.
     */
    public long writeHeader(WritableByteChannel out) throws IOException {
        int alignment = alignment();
        Encoder e = new Encoder();
        e.u32(GgufFile.MAGIC);
        e.u32(GgufFile.VERSION);
        e.u64(tensors.size());
        e.u64(kv.size());
        for (Map.Entry<String, GgufValue> en : kv.entrySet()) {
            e.string(en.getKey());
            e.u32(en.getValue().type().id());
            e.value(en.getValue());
        }
        long offset = 0;
        for (PendingTensor t : tensors) {
            e.string(t.name);
            e.u32(t.dims.length);
            for (long d : t.dims) e.u64(d);
            e.u32(t.type.id());
            e.u64(offset);
            offset += GgufFile.alignUp(t.byteSize, alignment);
        }
        if (!tensors.isEmpty()) e.pad(alignment);
        byte[] header = e.bytes.toByteArray();
        writeFully(out, ByteBuffer.wrap(header));
        return header.length;
    }

    /** Where tensor {@code name}'s bytes start, counted from the start of the data section; its size is {@link #byteSize}. */
    public long dataOffset(String name) {
        int alignment = alignment();
        long offset = 0;
        for (PendingTensor t : tensors) {
            if (t.name.equals(name)) return offset;
            offset += GgufFile.alignUp(t.byteSize, alignment);
        }
        throw new IllegalArgumentException("no tensor '" + name + "'");
    }

    /** Bytes of tensor {@code name}, without padding. */
    public long byteSize(String name) {
        for (PendingTensor t : tensors) if (t.name.equals(name)) return t.byteSize;
        throw new IllegalArgumentException("no tensor '" + name + "'");
    }

    /** Padding after tensor {@code name} up to the alignment (zero bytes in the file). */
    public long padding(String name) {
        long size = byteSize(name);
        return GgufFile.alignUp(size, alignment()) - size;
    }

    private static void writeSegment(WritableByteChannel out, MemorySegment data) throws IOException {
        // asByteBuffer() works for native segments and byte[]-backed ones; other heap arrays go through a copy
        boolean direct = data.heapBase().map(o -> o instanceof byte[]).orElse(true);
        for (long at = 0; at < data.byteSize(); at += CHUNK) {
            int n = (int) Math.min(CHUNK, data.byteSize() - at);
            MemorySegment chunk = data.asSlice(at, n);
            writeFully(out, direct ? chunk.asByteBuffer() : ByteBuffer.wrap(chunk.toArray(ValueLayout.JAVA_BYTE)));
        }
    }

    private static void writeFully(WritableByteChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) out.write(b);
    }

    /** Counts the bytes a tensor source writes. */
    private static final class CountingChannel implements WritableByteChannel {
        private final WritableByteChannel out;
        long count;

        CountingChannel(WritableByteChannel out) {
            this.out = out;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            int n = out.write(src);
            count += n;
            return n;
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

    /** Little-endian encoding of the header, KVs and tensor infos. */
    private static final class Encoder {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream(1 << 16);
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        void u8(int v) {
            bytes.write(v);
        }

        void u16(short v) {
            scratch.clear();
            scratch.putShort(v);
            bytes.write(scratch.array(), 0, 2);
        }

        void u32(int v) {
            scratch.clear();
            scratch.putInt(v);
            bytes.write(scratch.array(), 0, 4);
        }

        void u64(long v) {
            scratch.clear();
            scratch.putLong(v);
            bytes.write(scratch.array(), 0, 8);
        }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes.write(b, 0, b.length);
        }

        void pad(int alignment) {
            long n = GgufFile.alignUp(bytes.size(), alignment) - bytes.size();
            for (long i = 0; i < n; i++) bytes.write(0);
        }

        void value(GgufValue v) {
            Object o = v.value();
            switch (v.type()) {
                case UINT8, INT8 -> u8((Byte) o);
                case UINT16, INT16 -> u16((Short) o);
                case UINT32, INT32 -> u32((Integer) o);
                case UINT64, INT64 -> u64((Long) o);
                case FLOAT32 -> u32(Float.floatToRawIntBits((Float) o));
                case FLOAT64 -> u64(Double.doubleToRawLongBits((Double) o));
                case BOOL -> u8((Boolean) o ? 1 : 0);
                case STRING -> string((String) o);
                case ARRAY -> array((GgufArray) o);
            }
        }

        void array(GgufArray a) {
            u32(a.elementType().id());
            u64(a.size());
            Object b = a.backing();
            switch (a.elementType()) {
                case UINT8, INT8 -> bytes.write((byte[]) b, 0, a.size());
                case UINT16, INT16 -> { for (short s : (short[]) b) u16(s); }
                case UINT32, INT32 -> { for (int i : (int[]) b) u32(i); }
                case UINT64, INT64 -> { for (long l : (long[]) b) u64(l); }
                case FLOAT32 -> { for (float f : (float[]) b) u32(Float.floatToRawIntBits(f)); }
                case FLOAT64 -> { for (double d : (double[]) b) u64(Double.doubleToRawLongBits(d)); }
                case BOOL -> { for (boolean z : (boolean[]) b) u8(z ? 1 : 0); }
                case STRING -> { for (String s : (String[]) b) string(s); }
                case ARRAY -> { for (GgufArray x : (GgufArray[]) b) array(x); }
            }
        }
    }
}
