package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.export.BitAllocation;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.io.export.PlannedTensor;
import dev.lowbit.io.export.QuantMix;
import dev.lowbit.io.export.RotaryPermutation;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufWriter;
import dev.lowbit.io.imatrix.Imatrix;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.pipeline.artifact.ArtifactPlan;
import dev.lowbit.pipeline.artifact.ArtifactWriter;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.steps.QuantizerStep;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A GGUF file for llama.cpp: the per-tensor types of a llama-quantize mix ({@link BitAllocation}: llama.cpp's rules,
 * {@code --tensor-type} overrides, {@code --pure}), its metadata, and tensors in llama.cpp's order and row order.
 *
 * <p>Streaming: {@link #open} writes the header (every offset is known from the plan), then each {@link #put} writes its
 * tensor at its own offset, in whatever order the pipeline finishes them, so memory holds at most one tensor's rows
 * per encoding chunk. What each payload becomes:
 * <ul>
 *   <li>{@link Payload.Ggml}: blocks GPTQ already encoded in the planned type (rows permuted for q/k here);</li>
 *   <li>{@link Payload.Kept}: the source tensor — copied as it is from a {@code .gguf} whose type is the planned one,
 *       else decoded row by row and encoded with the planned type's own search (llama-quantize's rounding, weighted
 *       by the importance matrix where the type uses one);</li>
 *   <li>{@link Payload.Floats}: a tensor a transform changed, encoded the same way.</li>
 * </ul>
 * The recipe and manifest go into the sidecar {@code FILE.lowbit-manifest.json}, not into GGUF metadata, so a file
 * lowbit writes is byte-identical to llama-quantize's.
 */
public final class GgufArtifactWriter implements ArtifactWriter {
    /** What the recipe's {@code output} and overrides say about the file. */
    public record Target(LlamaFtype ftype, boolean pure, List<String> tensorTypes, boolean allowRequantize) {
        public Target {
            tensorTypes = List.copyOf(tensorTypes);
        }
    }

    private final Target target;
    private final Imatrix imatrix;
    private final String imatrixName;
    private final RowEncoder encoder;
    private ModelSource source;
    private GgufLayout layout;
    private Map<String, String> ggufByHf;
    private final Map<String, float[]> importance = new HashMap<>();
    private SafeOutput out;
    private FileChannel channel;
    private GgufWriter header;
    private long dataStart;
    private final Set<String> written = new HashSet<>();
    private final Map<String, Integer> counts = new TreeMap<>();
    private long parameters, tensorBytes, q8Elements, q4Elements;
    private int weighted, gptq;
    private final List<String> fallbacks = new ArrayList<>();
    /** Whether the pipeline passes every global tensor as it is in the source (no transform step changes one). */
    private boolean globalsKept;
    /** Globals written by {@link #open} ahead of the layers, in file order; their later {@link #put} is a no-op. */
    private final Set<String> prewritten = new HashSet<>();
    /**
     * The file's bytes go through here: copied into off-heap buffers that a thread of their own hashes (SHA-256 for the
     * manifest, while the file is written front to back) and writes, O_DIRECT where the file system allows.
     */
    private BackgroundFileWriter sink;
    /** {@code -Dlowbit.gguf.direct=false}: every write through the page cache (to compare; the bytes are the same). */
    private static final boolean DIRECT = !"false".equals(System.getProperty("lowbit.gguf.direct"));

    /**
     * @param imatrix     importance matrix (read, or computed from calibration text), or null
     * @param imatrixName what {@code quantize.imatrix.file} says
     * @param threads     encoding threads (the bytes do not depend on it)
     */
    public GgufArtifactWriter(Target target, Imatrix imatrix, String imatrixName, int threads) {
        this.target = target;
        this.imatrix = imatrix;
        this.imatrixName = imatrixName;
        this.encoder = new RowEncoder(threads);
    }

    @Override
    public String format() {
        return Output.GGUF;
    }

    /** The mix allocator of this target. */
    BitAllocation allocation() {
        List<QuantMix.TypeOverride> overrides = new ArrayList<>();
        for (String s : target.tensorTypes()) {
            try {
                overrides.add(QuantMix.TypeOverride.parse(s));
            } catch (IllegalArgumentException e) {
                throw new BadInputException("--tensor-type", e.getMessage());
            }
        }
        return BitAllocation.llamaCpp(QuantMix.Options.of(target.ftype()).withPure(target.pure())
                .withImatrix(imatrix != null).withOverrides(overrides));
    }

    /**
     * The plan of {@code source} under this target's mix: every tensor by Hugging Face name with its ggml type
     * (GGUF's {@code rope_freqs}, which has no Hugging Face name, is the writer's own).
     */
    public ArtifactPlan plan(ModelSource source, Recipe recipe, QuantizerStep quantizer) {
        this.source = source;
        this.layout = GgufLayout.of(source, allocation());
        this.globalsKept = recipe.transforms(dev.lowbit.pipeline.steps.StepRegistry.DEFAULT).isEmpty();
        this.ggufByHf = layout.ggufByHf();
        ModelArchitecture arch = ModelArchitecture.forHfClass(source.architecture(), source.path().toString());
        List<ArtifactPlan.Entry> globals = new ArrayList<>(), layers = new ArrayList<>();
        for (PlannedTensor t : layout.plan().tensors()) {
            String hf = layout.origins().get(t.name()).hfName();
            if (hf == null) continue;
            var slot = arch.parseHf(hf);
            int layer = slot.map(ModelArchitecture.Slot::layer).orElse(-1);
            var e = new ArtifactPlan.Entry(hf, source.shape(hf), layer, slot.map(ModelArchitecture.Slot::role).orElse(null),
                    null, t.type());
            (layer < 0 ? globals : layers).add(e);
        }
        globals.addAll(layers);
        return new ArtifactPlan(source, recipe, quantizer, globals);
    }

    @Override
    public void validate(ArtifactPlan plan) {
        if (layout == null || plan.source() != source) throw new IllegalStateException("validate a plan this writer made (plan())");
        String where = source.path().toString();
        layout.plan().requireBlockFit(where);
        for (PlannedTensor t : layout.plan().tensors()) {
            GgmlType from = sourceType(t.name());
            if (from != t.type()) {
                if (!BlockCodecs.supports(t.type())) throw new BadInputException(where, "tensor '" + t.name() + "': lowbit cannot encode " + t.type());
                if (!BlockCodecs.supports(from)) throw new BadInputException(where, "tensor '" + t.name() + "' is " + from + ", which lowbit cannot decode");
                boolean floatSource = from == GgmlType.F32 || from == GgmlType.F16 || from == GgmlType.BF16;
                if (!floatSource && !target.allowRequantize()) {
                    throw new BadInputException(where, "tensor '" + t.name() + "' is already " + from + "; re-quantizing to "
                            + t.type() + " loses accuracy twice (pass --allow-requantize to do it anyway)");
                }
            }
            if (imatrix != null && t.type().isQuantized() && dev.lowbit.ptq.search.GgmlSearches.forType(t.type()).usesImportance()) {
                float[] w = importanceFor(t);
                if (w != null) {
                    importance.put(t.name(), w);
                    weighted++;
                }
            }
            if (from != t.type() && (t.type() == GgmlType.Q8_0 || t.type() == GgmlType.Q4_0)) {
                long n = 1;
                for (long d : t.dims()) n *= d;
                if (t.type() == GgmlType.Q8_0) q8Elements += n;
                else q4Elements += n;
            }
        }
        // a big Q8_0 / Q4_0 plan compiles the Vector API quantizers now, not after its first 2^26 weights on the scalar loop
        dev.lowbit.kernels.legacy.LegacyKernels.expect(q8Elements, q4Elements);
    }

    /** The tensor's type in the source: its GGUF type, or F32 for anything decoded from a Hugging Face checkpoint. */
    private GgmlType sourceType(String gguf) {
        return layout.sourceFile() == null ? GgmlType.F32 : layout.sourceFile().tensorInfo(gguf).type();
    }

    /**
     * Replaces the importance (mean x² per input column) of a Linear that a transform step changed, measured on the
     * transformed layer's inputs, before the writer rounds it: folded scales s turn x into x/s, so the source model's
     * importance no longer describes what the tensor reads. A tensor the plan does not weight stays unweighted.
     */
    public void replaceImportance(String hfName, float[] meanSquare) {
        String g = ggufName(hfName);
        float[] old = importance.get(g);
        if (old == null) return;
        if (old.length != meanSquare.length) throw new IllegalArgumentException(hfName + ": " + meanSquare.length + " importance values, the tensor needs " + old.length);
        importance.put(g, meanSquare.clone());
    }

    /** Whether the writer's searches weigh by an importance matrix (some tensor of the plan is weighted). */
    public boolean weightsByImportance() {
        return !importance.isEmpty();
    }

    /** The tensor's mean-x² weights, {@code null} when the imatrix has no entry (llama-quantize goes on unweighted). */
    private float[] importanceFor(PlannedTensor t) {
        float[] w = imatrix.importance(t.name());
        if (w == null) return null;
        if (t.dims().length > 2) {
            throw new BadInputException(imatrixName, "entry '" + t.name() + "': per-expert importance (3-D tensors) is not supported");
        }
        long expect = t.dims()[0];
        if (w.length != expect) {
            throw new BadInputException(imatrixName, "entry '" + t.name() + "' has " + w.length + " values, the tensor needs " + expect);
        }
        return w;
    }

    /** The planned type of a Hugging Face tensor (what GPTQ quantizes it onto). */
    public GgmlType type(String hfName) {
        return layout.plan().get(ggufByHf.get(hfName)).type();
    }

    /** The GGUF name of a Hugging Face tensor, for messages. */
    public String ggufName(String hfName) {
        return ggufByHf.get(hfName);
    }

    @Override
    public void open(Path output, boolean force, SafeOutput.Inputs inputs) {
        out = SafeOutput.file(output, force, inputs);
        try {
            header = new GgufWriter();
            layout.metadata().forEach(header::put);
            if (imatrix != null) putImatrixKeys(header);
            for (PlannedTensor t : layout.plan().tensors()) header.declareTensor(t.name(), t.dims(), t.type());
            channel = FileChannel.open(out.path(), StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
            sink = new BackgroundFileWriter(channel, out.path(), DIRECT);
            dataStart = header.writeHeader(sink);
            // tensors without a Hugging Face name: rope_freqs (computed, or as the source GGUF has it)
            for (PlannedTensor t : layout.plan().tensors()) {
                if (layout.origins().get(t.name()).hfName() != null) continue;
                if (layout.sourceFile() != null && sourceType(t.name()) == t.type()) {
                    write(t, layout.sourceFile().data(t.name()));
                } else {
                    float[] f = layout.ropeFreqs();
                    if (f == null) throw new IllegalStateException("no data for GGUF tensor " + t.name());
                    encode(t, (first, count, x) -> System.arraycopy(f, 0, x, 0, f.length));
                }
            }
            // The pipeline puts the layers first and the globals last, but llama.cpp's files begin with output,
            // output_norm and token_embd: when no transform step can change a global, write those now, so that the
            // file is written front to back and hashed as it is written (else the manifest's sha256 reads it again).
            if (globalsKept) {
                for (PlannedTensor t : layout.plan().tensors()) {
                    GgufLayout.Origin o = layout.origins().get(t.name());
                    if (o.hfName() == null) continue;
                    if (layerOf(o.hfName()) >= 0) break;
                    kept(t, o);
                    prewritten.add(t.name());
                }
            }
        } catch (IOException | RuntimeException e) {
            throw out.failure(e);
        }
    }

    /** The claimed output, for the pipeline's error handling. */
    public SafeOutput output() {
        return out;
    }

    @Override
    public void put(Payload p) throws IOException {
        String gguf = ggufByHf.get(p.name());
        if (gguf == null) throw new IllegalArgumentException("tensor '" + p.name() + "' is not in the GGUF plan");
        PlannedTensor t = layout.plan().get(gguf);
        GgufLayout.Origin o = layout.origins().get(gguf);
        switch (p) {
            case Payload.Ggml g -> {
                if (g.type() != t.type()) throw new IllegalArgumentException(gguf + ": blocks of " + g.type() + ", planned " + t.type());
                write(t, o.heads() == 0 ? g.bytes() : permuteRows(g.bytes(), Math.toIntExact(t.dims()[1]), o.heads()));
                gptq++;
            }
            case Payload.Kept k -> {
                if (!prewritten.contains(gguf)) kept(t, o);
            }
            case Payload.Floats f -> {
                if (prewritten.contains(gguf)) throw new IllegalStateException(gguf + " was written from the source, then changed");
                float[] v = f.values();
                int len = Math.toIntExact(t.dims()[0]);
                encode(t, rows(o, t.dims(), (first, count, x, off) -> System.arraycopy(v, Math.toIntExact(first * len), x, off, count * len)));
            }
            case Payload.Quantized q -> throw new IllegalArgumentException("format gguf packs ggml blocks, not " + q.tensor().scheme());
        }
    }

    /** The source tensor in the planned type: copied when the source has that type, else decoded and encoded. */
    private void kept(PlannedTensor t, GgufLayout.Origin o) throws IOException {
        if (layout.sourceFile() != null && sourceType(t.name()) == t.type()) write(t, layout.sourceFile().data(t.name()));
        else encode(t, rows(o, t.dims(), (first, count, x, off) -> source.readRows(o.hfName(), first, count, x, off)));
    }

    private int layerOf(String hfName) {
        ModelArchitecture arch = ModelArchitecture.forHfClass(source.architecture(), source.path().toString());
        return arch.parseHf(hfName).map(ModelArchitecture.Slot::layer).orElse(-1);
    }

    /** Records a Linear that fell back to the importance-weighted search ({@code --allow-rtn-fallback}). */
    public void fallback(String hfName) {
        fallbacks.add(ggufByHf.get(hfName));
    }

    /** Rows in Hugging Face order, by index. */
    private interface HfRows {
        void read(long first, int count, float[] out, int offset);
    }

    /** GGUF row order over Hugging Face rows: q/k rows (or a q/k bias's elements) in llama.cpp's rotary order. */
    private static RowEncoder.RowReader rows(GgufLayout.Origin o, long[] dims, HfRows hf) {
        int len = Math.toIntExact(dims[0]);
        if (o.heads() == 0) return (first, count, x) -> hf.read(first, count, x, 0);
        if (dims.length == 1) {
            // a q/k bias: one row whose elements are permuted like the weight's rows
            return (first, count, x) -> {
                float[] b = new float[len];
                hf.read(0, 1, b, 0);
                for (int j = 0; j < len; j++) x[j] = b[RotaryPermutation.sourceRow(j, len, o.heads())];
            };
        }
        int rows = Math.toIntExact(dims[1]);
        return (first, count, x) -> {
            for (int i = 0; i < count; i++) {
                hf.read(RotaryPermutation.sourceRow(Math.toIntExact(first + i), rows, o.heads()), 1, x, i * len);
            }
        };
    }

    private void encode(PlannedTensor t, RowEncoder.RowReader rows) throws IOException {
        float[] w = importance.get(t.name());
        sink.position(dataStart + header.dataOffset(t.name()));
        encoder.encode(rows, t.dims(), t.type(), w).writeTo(sink);
        finish(t);
    }

    private void write(PlannedTensor t, MemorySegment bytes) throws IOException {
        if (bytes.byteSize() != t.byteSize()) throw new IllegalArgumentException(t.name() + ": " + bytes.byteSize() + " bytes, planned " + t.byteSize());
        sink.position(dataStart + header.dataOffset(t.name()));
        sink.write(bytes);
        finish(t);
    }

    private void finish(PlannedTensor t) throws IOException {
        if (sink.position() != dataStart + header.dataOffset(t.name()) + t.byteSize()) {
            throw new IllegalStateException("tensor '" + t.name() + "': wrote " + (sink.position() - dataStart - header.dataOffset(t.name()))
                    + " bytes, planned " + t.byteSize());
        }
        long pad = header.padding(t.name());
        if (pad > 0) {
            sink.write(ByteBuffer.allocate((int) pad));
        }
        if (!written.add(t.name())) throw new IllegalStateException("tensor '" + t.name() + "' written twice");
        counts.merge(t.type().name(), 1, Integer::sum);
        long n = 1;
        for (long d : t.dims()) n *= d;
        parameters += n;
        tensorBytes += t.byteSize();
    }

    /** GGUF row i is HF row {@link RotaryPermutation#sourceRow}: whole packed rows move. */
    private static MemorySegment permuteRows(MemorySegment packed, int rows, int heads) {
        long rowBytes = packed.byteSize() / rows;
        MemorySegment outRows = MemorySegment.ofArray(new byte[Math.toIntExact(packed.byteSize())]);
        for (int i = 0; i < rows; i++) {
            MemorySegment.copy(packed, RotaryPermutation.sourceRow(i, rows, heads) * rowBytes, outRows, i * rowBytes, rowBytes);
        }
        return outRows;
    }

    @Override
    public void finishLayer(int layer) {}

    @Override
    public Committed commit(Recipe recipe, Manifest manifest) throws IOException {
        for (PlannedTensor t : layout.plan().tensors()) {
            if (!written.contains(t.name())) throw new IllegalStateException("tensor '" + t.name() + "' was never written");
        }
        sink.finish();
        channel.force(true);  // durability before the rename: what O_DIRECT sent sits at most in the disk's cache
        long bytes = channel.size();
        channel.close();
        String digest = sink.sha256();  // null when the file was not written front to back: SafeOutput hashes it
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("gguf_tensors_by_type", new TreeMap<>(counts));
        figures.put("gptq_tensors", gptq);
        figures.put("rtn_fallbacks", List.copyOf(fallbacks));
        figures.put("imatrix_weighted_tensors", weighted);
        figures.forEach(manifest::figure);
        out.commit(manifest, digest);
        return new Committed(out.target(), bytes, figures);
    }

    /** The console report of a committed file. */
    public GgufQuantizeReport report(Committed c, double seconds) {
        return new GgufQuantizeReport(c.path().toString(), source.path().toString(), target.ftype().name(), c.bytes(),
                parameters, tensorBytes, seconds, new TreeMap<>(counts), imatrixName, weighted, gptq - fallbacks.size(), fallbacks);
    }

    @Override
    public void close() {
        encoder.close();
        if (sink != null) sink.close();
        try {
            if (channel != null && channel.isOpen()) channel.close();
        } catch (IOException ignored) {
            // the temp file goes with the output below
        }
        if (out != null) out.close();
    }

    /** The keys llama-quantize adds when it uses an importance matrix. */
    private void putImatrixKeys(GgufWriter w) {
        w.putString("quantize.imatrix.file", imatrixName);
        if (!imatrix.datasets().isEmpty()) w.putString("quantize.imatrix.dataset", imatrix.datasets().getFirst());
        w.put("quantize.imatrix.entries_count", GgufValue.ofInt32(imatrix.entries().size()));
        if (imatrix.chunkCount() > 0) w.put("quantize.imatrix.chunks_count", GgufValue.ofInt32(imatrix.chunkCount()));
    }
}
