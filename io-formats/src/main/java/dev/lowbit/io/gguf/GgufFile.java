package dev.lowbit.io.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One memory-mapped GGUF file (version 3, or 2 which has the same layout):
 * {@code "GGUF" u32 version, u64 tensor_count, u64 kv_count}, the metadata KVs, the tensor infos, padding to
 * {@code general.alignment} (u32, a power of two, default 32), then the data section.
 *
 * <p>Everything is checked against the bytes that remain before anything proportional to a claimed count or length is
 * allocated; any defect is a one-line {@link BadInputException} naming the file. Tensor data are zero-copy slices of the
 * mapping, valid until {@link #close()}.
 */
public final class GgufFile implements TensorSource {
    public static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
    public static final int VERSION = 3;
    public static final int DEFAULT_ALIGNMENT = 32;
    public static final String ALIGNMENT_KEY = "general.alignment";
    public static final int MAX_DIMS = 4;
    /** Deepest array nesting we read (the spec allows nesting, ggml's reader rejects it). */
    static final int MAX_ARRAY_DEPTH = 4;

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final Map<String, GgufValue> kv;
    private final List<GgufTensorInfo> tensorInfos;
    private final Map<String, GgufTensorInfo> byName;
    private final int alignment;
    private final long dataStart;

    private GgufFile(Path path, Arena arena, MemorySegment file, int version, Map<String, GgufValue> kv,
                     List<GgufTensorInfo> tensorInfos, Map<String, GgufTensorInfo> byName, int alignment, long dataStart) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.version = version;
        this.kv = kv;
        this.tensorInfos = tensorInfos;
        this.byName = byName;
        this.alignment = alignment;
        this.dataStart = dataStart;
    }

    /** Maps and validates {@code path}; throws {@link BadInputException} naming the file and the cause. */
    public static GgufFile open(Path path) {
        return dev.lowbit.io.tensor.MappedFiles.open(path, (arena, seg) -> parse(path, arena, seg));
    }

    /** Parses an in-memory GGUF image (fuzzing, tests). The segment must outlive the result. */
    public static GgufFile parse(Path name, MemorySegment seg) {
        return parse(name, null, seg);
    }

    private static GgufFile parse(Path path, Arena arena, MemorySegment seg) {
        GgufCursor in = new GgufCursor(path, seg);
        if (seg.byteSize() < 24) {
            if (seg.byteSize() >= 4 && seg.get(GgufCursor.INT_LE, 0) != MAGIC) {
                throw new BadInputException(path, "not a GGUF file (bad magic)");
            }
            throw new BadInputException(path, "truncated: " + seg.byteSize() + " bytes, shorter than the GGUF header");
        }
        if (in.u32("magic") != MAGIC) throw new BadInputException(path, "not a GGUF file (bad magic)");
        int version = in.u32("version");
        if (version != 3 && version != 2) {
            if (Integer.reverseBytes(version) == 2 || Integer.reverseBytes(version) == 3) {
                throw new BadInputException(path, "big-endian GGUF is not supported");
            }
            throw new BadInputException(path, "unsupported GGUF version " + Integer.toUnsignedString(version)
                    + " (lowbit reads versions 2 and 3)");
        }
        long nTensors = in.count("tensor_count", 8 + 4 + 4 + 8);
        long nKv = in.count("metadata_kv_count", 8 + 4 + 1);

        Map<String, GgufValue> kv = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            String key = in.string("metadata key " + i);
            int typeId = in.u32("type of '" + key + "'");
            GgufValueType type = GgufValueType.byId(Integer.toUnsignedLong(typeId));
            if (type == null) {
                throw new BadInputException(path, "metadata '" + key + "' has unknown value type " + Integer.toUnsignedString(typeId));
            }
            GgufValue v = in.value(key, type, 0);
            if (kv.putIfAbsent(key, v) != null) throw new BadInputException(path, "duplicate metadata key '" + key + "'");
        }

        int alignment = DEFAULT_ALIGNMENT;
        GgufValue a = kv.get(ALIGNMENT_KEY);
        if (a != null) {
            if (a.type() != GgufValueType.UINT32) {
                throw new BadInputException(path, ALIGNMENT_KEY + " is " + a.type() + ", must be UINT32");
            }
            long al = a.asLong();
            if (al == 0 || (al & (al - 1)) != 0 || al > (1 << 30)) {
                throw new BadInputException(path, ALIGNMENT_KEY + " = " + al + " is not a power of two");
            }
            alignment = (int) al;
        }

        boolean bitnet = kv.get("general.architecture") instanceof GgufValue arch
                && arch.type() == GgufValueType.STRING && arch.asString().toLowerCase().startsWith("bitnet");
        List<GgufTensorInfo> infos = new ArrayList<>((int) nTensors);
        Map<String, GgufTensorInfo> byName = new LinkedHashMap<>();
        for (long i = 0; i < nTensors; i++) {
            GgufTensorInfo t = in.tensorInfo(i, bitnet);
            if (byName.putIfAbsent(t.name(), t) != null) throw new BadInputException(path, "duplicate tensor '" + t.name() + "'");
            infos.add(t);
        }

        long dataStart = alignUp(in.position(), alignment);
        long size = seg.byteSize();
        if (nTensors > 0 && dataStart > size) {
            throw new BadInputException(path, "truncated: data section would start at " + dataStart + " but the file has "
                    + size + " bytes");
        }
        long dataSize = Math.max(0, size - dataStart);
        GgufTensorInfo[] sorted = infos.toArray(GgufTensorInfo[]::new);
        Arrays.sort(sorted, (x, y) -> Long.compareUnsigned(x.offset(), y.offset()));
        long prevEnd = 0;
        String prev = null;
        for (GgufTensorInfo t : sorted) {
            long off = t.offset();
            if (off < 0 || off > dataSize) {
                throw new BadInputException(path, "tensor '" + t.name() + "' offset " + Long.toUnsignedString(off)
                        + " is beyond the data section of " + dataSize + " bytes");
            }
            if (off % alignment != 0) {
                throw new BadInputException(path, "tensor '" + t.name() + "' offset " + off + " is not a multiple of the alignment "
                        + alignment);
            }
            long bytes = t.byteSize();
            if (bytes > dataSize - off) {
                throw new BadInputException(path, "tensor '" + t.name() + "' (" + bytes + " bytes at offset " + off
                        + ") runs past the end of the file");
            }
            if (off < prevEnd) {
                throw new BadInputException(path, "tensor '" + t.name() + "' at offset " + off + " overlaps tensor '" + prev + "'");
            }
            prevEnd = off + bytes;
            prev = t.name();
        }
        return new GgufFile(path, arena, seg, version, Collections.unmodifiableMap(kv), List.copyOf(infos),
                Collections.unmodifiableMap(byName), alignment, dataStart);
    }

    static long alignUp(long x, long alignment) {
        return Math.ceilDiv(x, alignment) * alignment;
    }

    public Path path() {
        return path;
    }

    /** The GGUF version in the header (2 or 3). */
    public int version() {
        return version;
    }

    /** Every metadata KV in file order, typed. */
    public Map<String, GgufValue> kv() {
        return kv;
    }

    /** The value of {@code key}, or {@code null}. */
    public GgufValue get(String key) {
        return kv.get(key);
    }

    /**
     * The integer value of {@code key} (any GGUF integer type, widened to long), or {@code null} when absent; a value
     * of another type is bad input naming the file and the key.
     */
    public Long integer(String key) {
        GgufValue v = kv.get(key);
        if (v == null) return null;
        try {
            return v.asLong();
        } catch (RuntimeException e) {
            throw new BadInputException(path, "metadata '" + key + "' is " + v.type() + ", expected an integer");
        }
    }

    /** {@link #integer(String)} as an int, {@code dflt} when absent; a value outside int range is refused as not an integer. */
    public int intOr(String key, int dflt) {
        Long n = integer(key);
        if (n == null) return dflt;
        if (n != n.intValue()) {
            throw new BadInputException(path, "metadata '" + key + "' is " + kv.get(key).type() + ", expected an integer");
        }
        return n.intValue();
    }

    /** Tensor infos in file order. */
    public List<GgufTensorInfo> tensorInfos() {
        return tensorInfos;
    }

    /** The info of tensor {@code name}, or a {@link BadInputException} naming the file when absent. */
    public GgufTensorInfo tensorInfo(String name) {
        GgufTensorInfo t = byName.get(name);
        if (t == null) throw new BadInputException(path, "no tensor named '" + name + "'");
        return t;
    }

    /** The alignment in effect ({@code general.alignment} or 32). */
    public int alignment() {
        return alignment;
    }

    /** File offset of the data section (tensor offsets are relative to it). */
    public long dataStart() {
        return dataStart;
    }

    /** The whole mapped file. */
    public MemorySegment segment() {
        return file;
    }

    /** Zero-copy slice of the tensor's bytes ({@link GgufTensorInfo#byteSize()} of them, without padding). */
    public MemorySegment data(GgufTensorInfo t) {
        return file.asSlice(dataStart + t.offset(), t.byteSize());
    }

    public MemorySegment data(String name) {
        return data(tensorInfo(name));
    }

    /**
     * Whether the tensors lie as llama.cpp requires: in tensor-info order, each at the running sum of the previous
     * tensors' sizes padded to the alignment.
     */
    public boolean hasLlamaCppLayout() {
        long expect = 0;
        for (GgufTensorInfo t : tensorInfos) {
            if (t.offset() != expect) return false;
            expect += alignUp(t.byteSize(), alignment);
        }
        return true;
    }

    /** Decodes a tensor of any type with a codec to a heap F32 tensor in PyTorch order (one tensor, never a model). */
    public Tensor dequantize(String name) {
        GgufTensorInfo t = tensorInfo(name);
        if (!BlockCodecs.supports(t.type())) {
            throw new BadInputException(path, "tensor '" + name + "' is " + t.type() + ", which lowbit cannot decode");
        }
        BlockCodec c = BlockCodecs.forType(t.type());
        long n = t.elementCount();
        if (n > Integer.MAX_VALUE - 8) throw new BadInputException(path, "tensor '" + name + "' is too large to decode at once");
        // an empty tensor decodes to nothing, whatever its other dimensions (fuzzing found [6861881376, 0])
        if (n == 0) return Tensor.ofFloats(name, new Shape(t.torchShape()), new float[0]);
        int row = t.nDims() == 0 ? 1 : Math.toIntExact(t.dims()[0]);
        float[] out = new float[(int) n];
        MemorySegment src = data(t);
        long rowBytes = row == 0 ? 0 : c.rowBytes(row);
        for (long r = 0; row > 0 && r < n / row; r++) c.dequantizeRow(src, r * rowBytes, out, (int) (r * row), row);
        return Tensor.ofFloats(name, new Shape(t.torchShape()), out);
    }

    @Override
    public List<String> names() {
        return List.copyOf(byName.keySet());
    }

    @Override
    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /**
     * A zero-copy {@link Tensor} for the unquantized types (F32 F16 BF16 F64 I8 I16 I32 I64), shape in PyTorch order.
     * Block types need {@link #dequantize(String)}.
     */
    @Override
    public Tensor tensor(String name) {
        GgufTensorInfo t = tensorInfo(name);
        DType dtype = switch (t.type()) {
            case F32 -> DType.F32;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
            case F64 -> DType.F64;
            case I8 -> DType.I8;
            case I16 -> DType.I16;
            case I32 -> DType.I32;
            case I64 -> DType.I64;
            default -> throw new BadInputException(path, "tensor '" + name + "' is " + t.type()
                    + ", a block type: use dequantize()");
        };
        return new Tensor(name, dtype, new Shape(t.torchShape()), data(t));
    }

    /** The STRING-typed metadata values (other types are in {@link #kv()}). */
    @Override
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        kv.forEach((k, v) -> {
            if (v.type() == GgufValueType.STRING) m.put(k, v.asString());
        });
        return Collections.unmodifiableMap(m);
    }

    @Override
    public void releasePages() {
        if (file.isMapped()) file.unload();
    }

    @Override
    public void close() {
        if (arena != null) arena.close();
    }
}
