package dev.lowbit.io.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One memory-mapped safetensors file: {@code u64 N}, N bytes of UTF-8 JSON header, then the data section.
 * Validation follows the reference loader: header ≤ 100,000,000 bytes starting with '{' (trailing space padding is
 * fine, anything else after the object is not), valid UTF-8, nesting ≤ 8, no duplicate names, offsets and dimensions
 * non-negative JSON integers, tensors tiling the data section exactly in (begin, end) order (no holes, no overlap, no
 * trailing bytes), byte size = product(shape) × element size. Every failure is a one-line {@link BadInputException}
 * naming the file; sizes claimed by the header are checked against the real file before anything is sized from them.
 * Tensors are zero-copy slices of the mapping, valid until {@link #close()}.
 */
public final class SafetensorsFile implements TensorSource {
    public static final long MAX_HEADER = 100_000_000L;
    private static final int MAX_JSON_DEPTH = 8;

    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            // serde_json (the reference) rejects anything but whitespace after the top-level object
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(MAX_JSON_DEPTH).maxStringLength(50_000_000).build());
    }

    /** Header entry of one tensor: offsets relative to the start of the data section. */
    public record Entry(String name, DType dtype, Shape shape, long begin, long end) {}

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, MemorySegment file, long dataStart,
                            Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Maps and validates {@code path}; throws {@link BadInputException} naming the file and the cause. */
    public static SafetensorsFile open(Path path) {
        return dev.lowbit.io.tensor.MappedFiles.open(path, (arena, seg) -> parse(path, arena, seg));
    }

    /** Parses an in-memory safetensors image (fuzzing, tests). The segment must outlive the result. */
    public static SafetensorsFile parse(Path name, MemorySegment seg) {
        return parse(name, null, seg);
    }

    private static SafetensorsFile parse(Path path, Arena arena, MemorySegment seg) {
        long size = seg.byteSize();
        if (size < 8) throw new BadInputException(path, "truncated: " + size + " bytes, no header length");
        long n = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (n < 0 || n > MAX_HEADER) {
            throw new BadInputException(path, "header length " + Long.toUnsignedString(n) + " exceeds the limit of " + MAX_HEADER);
        }
        if (n > size - 8) {
            throw new BadInputException(path, "header length " + n + " runs past the end of the file (" + size + " bytes)");
        }
        if (n < 2) throw new BadInputException(path, "header of " + n + " bytes is too short");
        byte[] header = seg.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        if (header[0] != '{') throw new BadInputException(path, "header does not start with '{'");
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(header)).toString();
        } catch (CharacterCodingException e) {
            throw new BadInputException(path, "header is not valid UTF-8");
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (IOException e) {
            String why = firstLine(e.getMessage());
            // Jackson words it "Duplicate field 'name'" (STRICT_DUPLICATE_DETECTION)
            throw new BadInputException(path, why.startsWith("Duplicate field ")
                    ? "duplicate name " + why.substring("Duplicate field ".length()) + " in header"
                    : "header is not valid JSON: " + why);
        }
        if (!(root instanceof ObjectNode obj)) throw new BadInputException(path, "header is not a JSON object");

        long dataSize = size - 8 - n;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> list = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = obj.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            String name = f.getKey();
            JsonNode v = f.getValue();
            if (name.equals("__metadata__")) {
                if (v.isNull()) continue; // serde reads null as "no metadata", and so do we
                if (!v.isObject()) throw new BadInputException(path, "__metadata__ is not an object");
                for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> kv = m.next();
                    if (!kv.getValue().isTextual()) {
                        throw new BadInputException(path, "__metadata__ value " + quote(kv.getKey()) + " is not a string");
                    }
                    metadata.put(kv.getKey(), kv.getValue().textValue());
                }
                continue;
            }
            list.add(entry(path, name, v, dataSize));
        }
        // Tiling check: sorted by begin, each tensor starts where the previous ended and the last ends at the end.
        Entry[] sorted = list.toArray(Entry[]::new);
        // Order by (begin, end) like the reference, so empty tensors sharing an offset with the next one tile cleanly.
        Arrays.sort(sorted, (a, b) -> a.begin != b.begin ? Long.compare(a.begin, b.begin) : Long.compare(a.end, b.end));
        long expect = 0;
        for (Entry e : sorted) {
            if (e.begin != expect) {
                throw new BadInputException(path, e.begin < expect
                        ? "tensor " + quote(e.name) + " data_offsets [" + e.begin + "," + e.end + "] overlap the previous tensor"
                        : "hole in the data section before tensor " + quote(e.name) + " (bytes " + expect + ".." + e.begin + ")");
            }
            expect = e.end;
        }
        if (expect != dataSize) {
            throw new BadInputException(path, "data section is " + dataSize + " bytes but tensors cover " + expect
                    + " (trailing bytes)");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Entry e : list) entries.put(e.name, e);
        return new SafetensorsFile(path, arena, seg, 8 + n, Collections.unmodifiableMap(entries),
                Collections.unmodifiableMap(metadata));
    }

    private static Entry entry(Path path, String name, JsonNode v, long dataSize) {
        String q = quote(name);
        if (!v.isObject()) throw new BadInputException(path, "tensor " + q + " header entry is not an object");
        JsonNode dt = v.get("dtype"), sh = v.get("shape"), off = v.get("data_offsets");
        if (dt == null || !dt.isTextual()) throw new BadInputException(path, "tensor " + q + " has no dtype");
        if (sh == null || !sh.isArray()) throw new BadInputException(path, "tensor " + q + " has no shape");
        if (off == null || !off.isArray() || off.size() != 2) {
            throw new BadInputException(path, "tensor " + q + " has no data_offsets [begin, end]");
        }
        DType dtype;
        try {
            dtype = DType.fromWireName(dt.textValue(), path.toString());
        } catch (BadInputException e) {
            // the wire name is attacker-controlled: name it, but bounded and on one line
            String wire = dt.textValue();
            boolean plain = wire.length() <= 32 && wire.chars().allMatch(c -> c > ' ' && c < 127);
            throw new BadInputException(path, "tensor " + q + ": " + (plain ? e.getMessage() : "unknown dtype " + quote(wire)));
        }
        long[] dims = new long[sh.size()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = unsigned(sh.get(i));
            if (dims[i] < 0) throw new BadInputException(path, "tensor " + q + " has an invalid dimension " + bounded(sh.get(i)));
        }
        long begin = unsigned(off.get(0)), end = unsigned(off.get(1));
        if (begin < 0 || end < 0) {
            throw new BadInputException(path, "tensor " + q + " has invalid data_offsets " + bounded(off));
        }
        if (end < begin) throw new BadInputException(path, "tensor " + q + " data_offsets [" + begin + "," + end + "] are reversed");
        if (end > dataSize) {
            throw new BadInputException(path, "tensor " + q + " data_offsets [" + begin + "," + end
                    + "] exceed the data section of " + dataSize + " bytes");
        }
        Shape shape = new Shape(dims);
        long bytes;
        try {
            bytes = dtype.byteSizeOf(shape.elementCount());
        } catch (ArithmeticException e) {
            throw new BadInputException(path, "tensor " + q + " shape " + shape + " overflows");
        }
        if (bytes != end - begin) {
            throw new BadInputException(path, "tensor " + q + " shape " + shape + " of " + dtype.wireName()
                    + " needs " + bytes + " bytes but data_offsets give " + (end - begin));
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    /** A JSON non-negative integer that fits a long, or −1. Floats such as 1.0 are rejected, as serde_json does. */
    private static long unsigned(JsonNode n) {
        if (n == null || !n.isIntegralNumber() || !n.canConvertToLong()) return -1;
        long v = n.longValue();
        return v < 0 ? -1 : v;
    }

    private static String bounded(JsonNode n) {
        return n == null ? "null" : quoteRaw(n.toString());
    }

    /** A name for an error message: quoted, control characters escaped, at most 100 characters. */
    static String quote(String s) {
        return "'" + quoteRaw(s) + "'";
    }

    private static String quoteRaw(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < 100; i++) {
            char c = s.charAt(i);
            if (c < ' ' || c == 127) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        if (b.length() >= 100 && s.length() > 100) b.append("…");
        return b.toString();
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int i = s.indexOf('\n');
        String line = i < 0 ? s : s.substring(0, i);
        return line.length() > 200 ? line.substring(0, 200) + "…" : line;
    }

    public Path path() {
        return path;
    }

    /** Header entries in header order. */
    public Map<String, Entry> entries() {
        return entries;
    }

    /** Offset of the data section in the file (8 + header length). */
    public long dataStart() {
        return dataStart;
    }

    /** The whole mapped file. */
    public MemorySegment segment() {
        return file;
    }

    @Override
    public List<String> names() {
        return List.copyOf(entries.keySet());
    }

    @Override
    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    @Override
    public Tensor tensor(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new BadInputException(path, "no tensor named " + quote(name));
        return new Tensor(name, e.dtype, e.shape, file.asSlice(dataStart + e.begin, e.end - e.begin));
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
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
