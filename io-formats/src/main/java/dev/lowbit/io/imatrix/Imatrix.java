package dev.lowbit.io.imatrix;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufValueType;
import dev.lowbit.io.gguf.GgufWriter;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * An importance matrix as llama.cpp's {@code llama-imatrix} writes it and {@code llama-quantize --imatrix} reads it:
 * per weight tensor (keyed by its GGUF name, e.g. {@code blk.0.attn_q.weight}) the sum of x² of every input channel
 * over the calibration tokens, and how many tokens were summed. The k-quant searches take the mean,
 * {@code in_sum2 / counts}, as per-column importance.
 *
 * <p>Two file formats:
 * <ul>
 *   <li><b>GGUF</b> (current llama.cpp): {@code general.type = "imatrix"}, {@code imatrix.datasets} (string array),
 *       {@code imatrix.chunk_count}, {@code imatrix.chunk_size} (u32); per tensor two F32 tensors
 *       {@code <name>.in_sum2} (dims {@code [n_per_row, n_mat]}) and {@code <name>.counts} (dims {@code [1, n_mat]}),
 *       n_mat &gt; 1 only for stacked expert weights.</li>
 *   <li><b>Legacy {@code .dat}</b> (llama.cpp until mid-2025), all little-endian: i32 n_entries; per entry i32 name
 *       length, name bytes, i32 ncall, i32 nval, f32 values[nval]; then optionally i32 last_call (chunks) and i32
 *       length + bytes of the dataset name. The values are stored pre-scaled as {@code mean·ncall}, so the reader's
 *       mean is {@code values / ncall}; we keep them as {@code in_sum2 = values}, {@code counts = [ncall]}.</li>
 * </ul>
 *
 * @param entries    per tensor name, in file order
 * @param datasets   the calibration text(s) the statistics came from (may be empty)
 * @param chunkCount number of calibration chunks (0 when unknown)
 * @param chunkSize  tokens per chunk (0 when unknown)
 */
public record Imatrix(Map<String, Entry> entries, List<String> datasets, int chunkCount, int chunkSize) {

    public static final String IN_SUM2 = ".in_sum2";
    public static final String COUNTS = ".counts";

    /**
     * Statistics of one weight tensor.
     *
     * @param inSum2 Σx² per input channel, {@code nMat} blocks of {@code nPerRow}
     * @param counts tokens summed, one per block ({@code nMat} values)
     */
    public record Entry(float[] inSum2, float[] counts) {
        public Entry {
            Objects.requireNonNull(inSum2);
            Objects.requireNonNull(counts);
            if (counts.length == 0 || inSum2.length % counts.length != 0) {
                throw new IllegalArgumentException(inSum2.length + " sums do not split into " + counts.length + " matrices");
            }
        }

        /** Input channels per matrix. */
        public int nPerRow() {
            return inSum2.length / counts.length;
        }

        /**
         * The mean x² per input channel, as llama-quantize computes it: {@code in_sum2[j·n + i] / counts[j]} in f32
         * (a zero count gives 1, "no information").
         */
        public float[] mean() {
            int n = nPerRow();
            float[] m = new float[inSum2.length];
            for (int j = 0; j < counts.length; j++) {
                float c = counts[j];
                for (int i = 0; i < n; i++) m[j * n + i] = c > 0f ? inSum2[j * n + i] / c : 1f;
            }
            return m;
        }
    }

    public Imatrix {
        entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
        datasets = List.copyOf(datasets);
    }

    /** The mean-x² importance of tensor {@code name} ({@code nPerRow × nMat} values), or {@code null} if absent. */
    public float[] importance(String name) {
        Entry e = entries.get(name);
        return e == null ? null : e.mean();
    }

    /** Reads either format, telling them apart by the GGUF magic. */
    public static Imatrix read(Path path) {
        dev.lowbit.io.InputFiles.requireRegular(path, "importance matrix");
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return parse(path, ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena));
        } catch (IOException e) {
            throw new BadInputException(path, "cannot read: " + e.getMessage());
        }
    }

    /**
     * Parses an importance matrix held in {@code seg} (mapped by {@link #read}, or in memory for fuzzing), either
     * format; errors name {@code name}. Nothing of the result points into {@code seg}.
     */
    public static Imatrix parse(Path name, MemorySegment seg) {
        Imatrix m;
        if (seg.byteSize() >= 4 && seg.get(LE_INT, 0) == GgufFile.MAGIC) {
            try (GgufFile f = GgufFile.parse(name, seg)) {
                m = fromGguf(f);
            }
        } else {
            m = readDat(name, seg);
        }
        m.requireUsable(name.toString());
        return m;
    }

    /**
     * Refuses values no importance can have: mean x² is finite and ≥ 0, counts too. A NaN or negative weight would
     * steer every scale search of the tensor (NaN scales, a destroyed model) without any error from the codec.
     */
    public void requireUsable(String source) {
        for (Map.Entry<String, Entry> en : entries.entrySet()) {
            float[] sums = en.getValue().inSum2();
            for (int i = 0; i < sums.length; i++) {
                if (!Float.isFinite(sums[i]) || sums[i] < 0) {
                    throw new BadInputException(source, "entry '" + en.getKey() + "' holds " + sums[i] + " at " + i
                            + " (importance values are sums of squares: finite and not negative)");
                }
            }
            for (float c : en.getValue().counts()) {
                if (!Float.isFinite(c) || c < 0) {
                    throw new BadInputException(source, "entry '" + en.getKey() + "' has count " + c + " (must be finite and not negative)");
                }
            }
        }
    }

    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The GGUF format, from an open file. */
    public static Imatrix fromGguf(GgufFile f) {
        Path path = f.path();
        GgufValue type = f.get("general.type");
        if (type == null || type.type() != GgufValueType.STRING || !type.asString().equals("imatrix")) {
            throw new BadInputException(path, "not an importance matrix (general.type is "
                    + (type == null ? "missing" : "'" + type.value() + "'") + ", expected 'imatrix')");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (GgufTensorInfo t : f.tensorInfos()) {
            if (!t.name().endsWith(IN_SUM2)) continue;
            String name = t.name().substring(0, t.name().length() - IN_SUM2.length());
            String countsName = name + COUNTS;
            if (!f.contains(countsName)) throw new BadInputException(path, "'" + t.name() + "' has no '" + countsName + "'");
            float[] sums = floats(f, t.name());
            float[] counts = floats(f, countsName);
            long nMat = t.dims().length > 1 ? t.dims()[1] : 1;
            if (counts.length != nMat) {
                throw new BadInputException(path, "'" + countsName + "' has " + counts.length + " values for " + nMat + " matrices");
            }
            entries.put(name, new Entry(sums, counts));
        }
        for (GgufTensorInfo t : f.tensorInfos()) {
            if (t.name().endsWith(COUNTS) && !entries.containsKey(t.name().substring(0, t.name().length() - COUNTS.length()))) {
                throw new BadInputException(path, "'" + t.name() + "' has no matching '" + IN_SUM2 + "' tensor");
            }
        }
        GgufValue ds = f.get("imatrix.datasets");
        List<String> datasets;
        try {
            datasets = ds == null ? List.of() : ds.asArray().asStrings();
        } catch (RuntimeException e) {
            throw new BadInputException(path, "metadata 'imatrix.datasets' is " + ds.type() + ", expected an array of strings");
        }
        return new Imatrix(entries, datasets, intOr(f, "imatrix.chunk_count"), intOr(f, "imatrix.chunk_size"));
    }

    private static float[] floats(GgufFile f, String name) {
        GgufTensorInfo t = f.tensorInfo(name);
        if (t.type() != GgmlType.F32) throw new BadInputException(f.path(), "'" + name + "' is " + t.type() + ", expected F32");
        Tensor x = f.tensor(name);
        return x.toFloatArray();
    }

    private static int intOr(GgufFile f, String key) {
        Long n = f.integer(key);
        if (n == null) return 0;
        if (n < 0 || n > Integer.MAX_VALUE) throw new BadInputException(f.path(), "metadata '" + key + "' is " + n + ", out of range");
        return n.intValue();
    }

    /** The legacy binary format; every count and length is checked against the bytes left. */
    static Imatrix readDat(Path path, MemorySegment seg) {
        long size = seg.byteSize();
        long[] at = {0};
        java.util.function.IntSupplier i32 = () -> {
            if (at[0] + 4 > size) throw new BadInputException(path, "truncated imatrix .dat at byte " + at[0]);
            int v = seg.get(LE_INT, at[0]);
            at[0] += 4;
            return v;
        };
        int n = i32.getAsInt();
        if (n < 1 || (long) n * 12 > size) throw new BadInputException(path, "not an imatrix file (entry count " + n + ")");
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (int e = 0; e < n; e++) {
            int len = i32.getAsInt();
            if (len < 1 || len > size - at[0]) throw new BadInputException(path, "entry " + e + ": bad name length " + len);
            String name = new String(seg.asSlice(at[0], len).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            at[0] += len;
            int ncall = i32.getAsInt();
            int nval = i32.getAsInt();
            if (nval < 1 || 4L * nval > size - at[0]) throw new BadInputException(path, "entry '" + name + "': bad value count " + nval);
            float[] v = new float[nval];
            MemorySegment.copy(seg, LE_FLOAT, at[0], v, 0, nval);
            at[0] += 4L * nval;
            // llama-quantize divides by ncall only when it is positive
            entries.put(name, new Entry(v, new float[] {ncall > 0 ? ncall : 1}));
        }
        int chunks = 0;
        List<String> datasets = new ArrayList<>();
        if (size - at[0] >= 4) {
            chunks = i32.getAsInt();
            if (size - at[0] >= 4) {
                int len = i32.getAsInt();
                if (len > 0 && len <= size - at[0]) {
                    datasets.add(new String(seg.asSlice(at[0], len).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
                }
            }
        }
        return new Imatrix(entries, datasets, chunks, 0);
    }

    /** Writes the GGUF format (temp file + rename; an existing file is replaced only when {@code overwrite}). */
    public void write(Path path, boolean overwrite) throws IOException {
        GgufWriter w = new GgufWriter();
        w.putString("general.type", "imatrix");
        w.put("imatrix.datasets", GgufValue.ofStrings(datasets));
        w.putUint32("imatrix.chunk_count", chunkCount);
        w.putUint32("imatrix.chunk_size", chunkSize);
        for (Map.Entry<String, Entry> en : entries.entrySet()) {
            Entry e = en.getValue();
            long nMat = e.counts().length;
            long[] sumDims = nMat == 1 ? new long[] {e.nPerRow()} : new long[] {e.nPerRow(), nMat};
            long[] countDims = nMat == 1 ? new long[] {1} : new long[] {1, nMat};
            w.addTensor(en.getKey() + IN_SUM2, sumDims, GgmlType.F32, f32(e.inSum2()));
            w.addTensor(en.getKey() + COUNTS, countDims, GgmlType.F32, f32(e.counts()));
        }
        w.write(path, overwrite);
    }

    private static MemorySegment f32(float[] v) {
        MemorySegment s = MemorySegment.ofArray(new byte[4 * v.length]);
        MemorySegment.copy(v, 0, s, LE_FLOAT, 0, v.length);
        return s;
    }
}
