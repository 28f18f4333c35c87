package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.BitAllocation;
import dev.lowbit.io.export.ExportPlan;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.io.export.PlannedTensor;
import dev.lowbit.io.export.QuantMix;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.ptq.search.GgmlSearches;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufWriter;
import dev.lowbit.io.imatrix.Imatrix;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Hugging Face Llama-family directory or GGUF file → GGUF file for llama.cpp, with llama-quantize's per-tensor type
 * mixes ({@code Q4_K_M} …), optional importance matrix and {@code --tensor-type} overrides.
 *
 * <p>Data flow: plan every tensor's type ({@link QuantMix}, exactly as llama.cpp) → check, before anything is
 * written, that every row fits its type's blocks, that nothing already quantized would be re-quantized unless asked,
 * and that the imatrix matches → stream tensor by tensor: decode rows to f32 (q/k rows permuted for llama.cpp's
 * rope), quantize them with the planned codec (importance weights where the codec uses them), append to a temporary
 * file beside the output → swap it into place with its sidecar manifest ({@link SafeOutput}). Memory stays at about one chunk of rows per thread.
 */
public final class GgufQuantizePipeline {
    private static final ObjectMapper JSON = new ObjectMapper();

    private GgufQuantizePipeline() {}

    /**
     * One export.
     *
     * @param model           Hugging Face model directory or {@code .gguf} file
     * @param output          the {@code .gguf} to write
     * @param ftype           the mix
     * @param imatrix         importance matrix file (GGUF or legacy {@code .dat}), or {@code null}
     * @param calib           calibration text to compute an importance matrix from, or {@code null}
     * @param calibSamples    calibration windows
     * @param calibSeqlen     tokens per window
     * @param tensorTypes     {@code REGEX=TYPE} overrides, first match wins
     * @param pure            no mix rules: every quantizable tensor gets the mix's default type
     * @param allowRequantize allow re-quantizing tensors of an already quantized GGUF (dequantize, then quantize)
     * @param force           replace an existing output
     * @param threads         encoding threads (the output does not depend on it)
     * @param gptq            GPTQ onto each decoder Linear's planned type (needs {@code calib}), or {@code null} for
     *                        llama-quantize's rounding
     */
    public record Request(Path model, Path output, LlamaFtype ftype, Path imatrix, Path calib, int calibSamples,
                          int calibSeqlen, List<String> tensorTypes, boolean pure, boolean allowRequantize,
                          boolean force, int threads, GptqOptions gptq) {
        public Request {
            tensorTypes = List.copyOf(tensorTypes);
        }

        /** llama-quantize's rounding (no GPTQ). */
        public Request(Path model, Path output, LlamaFtype ftype, Path imatrix, Path calib, int calibSamples,
                       int calibSeqlen, List<String> tensorTypes, boolean pure, boolean allowRequantize,
                       boolean force, int threads) {
            this(model, output, ftype, imatrix, calib, calibSamples, calibSeqlen, tensorTypes, pure, allowRequantize,
                    force, threads, null);
        }

        /** A plain conversion ({@code lowbit convert}): no imatrix, no overrides. */
        public static Request convert(Path model, Path output, LlamaFtype ftype, boolean force, int threads) {
            return new Request(model, output, ftype, null, null, 0, 0, List.of(), false, false, force, threads);
        }
    }

    /**
     * GPTQ settings for {@code --method gptq}.
     *
     * @param damp             damping, fraction of mean diag(H)
     * @param blockSize        lazy-batch width
     * @param actOrder         sweep columns by decreasing diag(H); a block's parameters are fitted when the sweep first
     *                         reaches one of its columns
     * @param weightedSearch   give each block's scale search the Hessian diagonal as importance (as llama.cpp's imatrix)
     * @param allowRtnFallback a Linear whose Hessian is not positive definite after damping is rounded by the
     *                         importance-weighted search instead of stopping the run
     */
    public record GptqOptions(double damp, int blockSize, boolean actOrder, boolean weightedSearch, boolean allowRtnFallback) {}

    /** Runs the export; every input problem is a one-line {@link BadInputException} raised before the output exists. */
    public static GgufQuantizeReport run(Request r) {
        return run(r, msg -> {});
    }

    /** As {@link #run(Request)}, with progress lines (GPTQ's per-layer steps) for a console. */
    public static GgufQuantizeReport run(Request r, java.util.function.Consumer<String> progress) {
        if (r.calib() != null && r.imatrix() != null) {
            throw new BadInputException("--calib", "give either --imatrix or --calib, not both");
        }
        if (r.gptq() != null && r.imatrix() != null) {
            throw new BadInputException("--imatrix", "--method gptq computes its own Hessians from --calib; an importance matrix does not apply");
        }
        SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("MODEL", r.model()).add("--imatrix", r.imatrix())
                .add("--calib", r.calib());
        try (SafeOutput out = SafeOutput.file(r.output(), r.force(), inputs)) {
            try {
                return run(r, out, progress);
            } catch (IOException | RuntimeException e) {
                throw out.failure(e);
            }
        }
    }

    private static GgufQuantizeReport run(Request r, SafeOutput out, java.util.function.Consumer<String> progress) throws IOException {
        long t0 = System.nanoTime();
        Imatrix imatrix = r.imatrix() != null ? Imatrix.read(r.imatrix())
                : r.calib() != null && r.gptq() == null ? ImatrixCalibration.compute(r.model(), r.calib(), r.calibSeqlen(), r.calibSamples(), r.threads())
                : null;
        String imatrixName = imatrix == null ? null : r.imatrix() != null ? r.imatrix().toString() : "calibration " + r.calib();
        List<QuantMix.TypeOverride> overrides = new ArrayList<>();
        for (String s : r.tensorTypes()) {
            try {
                overrides.add(QuantMix.TypeOverride.parse(s));
            } catch (IllegalArgumentException e) {
                throw new BadInputException("--tensor-type", e.getMessage());
            }
        }
        BitAllocation allocation = BitAllocation.llamaCpp(QuantMix.Options.of(r.ftype()).withPure(r.pure())
                .withImatrix(imatrix != null).withOverrides(overrides));

        try (GgufSourceModel src = GgufSourceModel.open(r.model());
             RowEncoder encoder = new RowEncoder(r.threads())) {
            ExportPlan plan = src.plan(allocation);
            plan.requireBlockFit(src.source());
            check(src, plan, r.allowRequantize());
            GgufGptq.Result gptq = r.gptq() == null ? null
                    : GgufGptq.run(r.model(), plan, r.calib(), r.calibSeqlen(), r.calibSamples(), r.gptq(), r.threads(), progress);

            GgufWriter w = new GgufWriter();
            src.metadata(plan).forEach(w::put);
            if (imatrix != null) putImatrixKeys(w, imatrixName, imatrix);
            Map<String, Integer> counts = new TreeMap<>();
            long params = 0, bytes = 0;
            int weighted = 0;
            for (PlannedTensor t : plan.tensors()) {
                GgmlType from = src.sourceType(t.name());
                MemorySegment raw = src.rawBytes(t.name());
                float[] importance = null;
                if (imatrix != null && t.type().isQuantized() && GgmlSearches.forType(t.type()).usesImportance()) {
                    importance = importanceFor(imatrix, imatrixName, t);
                    if (importance != null) weighted++;
                }
                byte[] solved = gptq == null ? null : gptq.tensors().get(t.name());
                if (solved != null) w.addTensor(t.name(), t.dims(), t.type(), MemorySegment.ofArray(solved));
                else if (from == t.type() && raw != null) w.addTensor(t.name(), t.dims(), t.type(), raw);
                else w.addTensor(t.name(), t.dims(), t.type(), encoder.encode(src, t.name(), t.dims(), t.type(), importance));
                counts.merge(t.type().name(), 1, Integer::sum);
                long n = 1;
                for (long d : t.dims()) n *= d;
                params += n;
                bytes += t.byteSize();
            }
            try (FileChannel ch = FileChannel.open(out.path(), StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                w.writeTo(ch);
            }
            long fileBytes = Files.size(out.path());
            out.commit(manifest(r, imatrixName));
            double secs = (System.nanoTime() - t0) / 1e9;
            return new GgufQuantizeReport(out.target().toString(), src.source(), r.ftype().name(), fileBytes, params, bytes,
                    secs, new TreeMap<>(counts), imatrixName, weighted,
                    gptq == null ? 0 : gptq.tensors().size() - gptq.fallbacks().size(), gptq == null ? List.of() : gptq.fallbacks());
        }
    }

    /**
     * The sidecar {@code OUT.lowbit-manifest.json}: the request as a recipe, and sha256 of every input file (names,
     * never paths). A sidecar rather than GGUF metadata, so that our files stay byte-identical to llama-quantize's.
     */
    private static Manifest manifest(Request r, String imatrixName) throws IOException {
        ObjectNode recipe = JSON.createObjectNode();
        recipe.put("format", "gguf");
        recipe.put("type", r.ftype().name());
        recipe.put("pure", r.pure());
        recipe.put("allow_requantize", r.allowRequantize());
        ArrayNode tt = recipe.putArray("tensor_types");
        r.tensorTypes().forEach(tt::add);
        if (r.imatrix() != null) recipe.put("imatrix", r.imatrix().getFileName().toString());
        if (r.gptq() != null) {
            GptqOptions g = r.gptq();
            recipe.putObject("gptq").put("damp_percent", g.damp()).put("block_size", g.blockSize())
                    .put("desc_act", g.actOrder()).put("search_importance", g.weightedSearch())
                    .put("allow_rtn_fallback", g.allowRtnFallback());
        }
        if (r.calib() != null) {
            recipe.putObject("calibration").put("data", r.calib().getFileName().toString())
                    .put("samples", r.calibSamples()).put("seqlen", r.calibSeqlen());
        }
        Manifest m = new Manifest(JSON.writeValueAsString(recipe), 0);
        List<Path> model;
        if (Files.isDirectory(r.model())) {
            try (Stream<Path> s = Files.list(r.model())) {
                model = s.filter(Files::isRegularFile).sorted().toList();
            }
        } else {
            model = List.of(r.model());
        }
        m.input("model", model);
        if (r.imatrix() != null) m.input("imatrix", List.of(r.imatrix()));
        if (r.calib() != null) m.input("calibration", List.of(r.calib()));
        return m;
    }

    /** Refuses tensors lowbit cannot encode or decode, and re-quantization without {@code allowRequantize}. */
    private static void check(GgufSourceModel src, ExportPlan plan, boolean allowRequantize) {
        for (PlannedTensor t : plan.tensors()) {
            GgmlType from = src.sourceType(t.name());
            if (from == t.type()) continue;
            if (!BlockCodecs.supports(t.type())) {
                throw new BadInputException(src.source(), "tensor '" + t.name() + "': lowbit cannot encode " + t.type());
            }
            if (!BlockCodecs.supports(from)) {
                throw new BadInputException(src.source(), "tensor '" + t.name() + "' is " + from + ", which lowbit cannot decode");
            }
            boolean floatSource = from == GgmlType.F32 || from == GgmlType.F16 || from == GgmlType.BF16;
            if (!floatSource && !allowRequantize) {
                throw new BadInputException(src.source(), "tensor '" + t.name() + "' is already " + from
                        + "; re-quantizing to " + t.type() + " loses accuracy twice (pass --allow-requantize to do it anyway)");
            }
        }
    }

    /** The tensor's mean-x² weights, {@code null} when the imatrix has no entry (llama-quantize goes on unweighted). */
    private static float[] importanceFor(Imatrix m, String file, PlannedTensor t) {
        float[] w = m.importance(t.name());
        if (w == null) return null;
        if (t.dims().length > 2) {
            throw new BadInputException(file, "entry '" + t.name() + "': per-expert importance (3-D tensors) is not supported");
        }
        long expect = t.dims()[0];
        if (w.length != expect) {
            throw new BadInputException(file, "entry '" + t.name() + "' has " + w.length + " values, the tensor needs " + expect);
        }
        return w;
    }

    /** The keys llama-quantize adds when it uses an importance matrix. */
    private static void putImatrixKeys(GgufWriter w, String file, Imatrix m) {
        w.putString("quantize.imatrix.file", file);
        if (!m.datasets().isEmpty()) w.putString("quantize.imatrix.dataset", m.datasets().getFirst());
        w.put("quantize.imatrix.entries_count", GgufValue.ofInt32(m.entries().size()));
        if (m.chunkCount() > 0) w.put("quantize.imatrix.chunks_count", GgufValue.ofInt32(m.chunkCount()));
    }
}
