package dev.lowbit.pipeline.plan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.calib.data.CalibrationSet;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.InputFiles;
import dev.lowbit.io.export.ExportPlan;
import dev.lowbit.io.export.GgufExportPlanner;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.io.export.PlannedTensor;
import dev.lowbit.io.export.QuantMix;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.recipe.SchemeOverride;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.alloc.Allocation;
import dev.lowbit.ptq.alloc.AllocationProblem;
import dev.lowbit.ptq.alloc.ExactAllocator;
import dev.lowbit.ptq.alloc.LagrangianFront;
import dev.lowbit.ptq.gptq.GptqConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * {@code lowbit plan}: mixed-precision bit allocation for a GGUF export under a size budget.
 *
 * <pre>
 *   base mix plan (llama.cpp's rules)  ──► fixed tensors (embeddings, output, norms) keep their types: fixed bytes
 *   sensitivity pass (or a previous report's table)  ──► per decoder Linear and candidate type: exact bytes, tr(ΔW H ΔWᵀ)/n
 *   integer program (CP-SAT), Lagrangian front + LP bound  ──► one type per Linear
 *   recipe (output gguf, the base mix, one override per Linear) + report (+ SVG of the front)
 * </pre>
 *
 * The recipe is what {@code lowbit quantize MODEL -o OUT.gguf --recipe plan.json} replays; its tensor sizes are
 * checked here, before anything is written, by planning the export through llama.cpp's rules with those overrides.
 */
public final class PlanPipeline {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Linears the allocation chooses for: every 2-D weight inside the decoder blocks. */
    private static final Pattern LINEAR = Pattern.compile("^blk\\.\\d+\\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\\.weight$");

    /** Candidates llama.cpp loads for any 256-multiple row, when the user names none. */
    public static final List<GgmlType> DEFAULT_CANDIDATES = List.of(GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K,
            GgmlType.IQ4_XS, GgmlType.IQ4_NL, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_0, GgmlType.F16);

    /** Mixes placed on the plot and in the report for comparison, when their types are all candidates. */
    private static final List<LlamaFtype> REFERENCE_MIXES = List.of(LlamaFtype.Q2_K, LlamaFtype.Q3_K_S, LlamaFtype.Q3_K_M,
            LlamaFtype.Q3_K_L, LlamaFtype.Q4_K_S, LlamaFtype.Q4_K_M, LlamaFtype.Q5_K_M, LlamaFtype.Q6_K, LlamaFtype.Q8_0);

    private PlanPipeline() {}

    /**
     * @param model         Hugging Face model directory
     * @param output        the recipe to write
     * @param budget        as given ({@link Budget#parse})
     * @param base          the mix whose rules fix the non-Linear tensors and that the recipe names; {@code null}: the
     *                      budget's mix, else Q4_K_M
     * @param calib         calibration text (Hessians, and the recipe's imatrix or GPTQ data)
     * @param candidates    ggml types to choose from
     * @param method        how candidates are quantized when scored, and the recipe's quantizer
     * @param sensitivities a previous report whose sensitivity table to reuse instead of a pass, or {@code null}
     * @param pins          {@code REGEX=TYPE}: Linears whose GGUF name matches take that type
     * @param uniformLayers every layer's Linear of one kind takes the same type
     * @param report        JSON report to write, or {@code null}
     * @param plot          SVG of the Pareto front, or {@code null}
     * @param measured      {@code LABEL=PPL}: measured perplexities to print on the plot, LABEL {@code plan} or a mix
     * @param imatrix       an importance matrix for the recipe to quantize with (method rtn) instead of computing one
     *                      from the calibration text, or {@code null}
     * @param klWindows     0: score each candidate by the layer-local output error under the Hessian; N > 0: by the
     *                      end-to-end KL divergence over N calibration windows ({@link SensitivityPass.Measure#KL})
     */
    public record Request(Path model, Path output, String budget, LlamaFtype base, Path calib, int calibSamples, int calibSeqlen,
                          List<GgmlType> candidates, SensitivityPass.Method method, Path sensitivities, List<String> pins,
                          boolean uniformLayers, Path report, Path plot, boolean force, int threads, double timeLimit,
                          List<String> measured, Path imatrix, int klWindows) {
        public Request {
            if (klWindows < 0) throw new IllegalArgumentException("klWindows < 0");
            candidates = List.copyOf(candidates);
            pins = List.copyOf(pins);
            measured = List.copyOf(measured);
        }
    }

    /** One Linear (or tied group) and what it got. */
    public record Choice(String item, List<String> tensors, GgmlType type, long bytes, double predicted) {}

    /** What a plan run reports. */
    public record Report(long budgetBytes, long minBytes, long maxBytes, long params, long plannedBytes, double predicted,
                         ExactAllocator.Result solved, double sensitivitySeconds, double planSeconds, List<Choice> choices,
                         Map<String, long[]> mixes, String recipe, ObjectNode json) {
        public double bitsPerWeight() {
            return plannedBytes * 8.0 / params;
        }
    }

    public static Report run(Request r, Consumer<String> progress) {
        if (!Files.isDirectory(r.model())) throw new BadInputException(r.model(), "lowbit plan needs a Hugging Face model directory (config.json, safetensors)");
        InputFiles.requireRegular(r.calib(), "--calib");
        if (r.sensitivities() != null) InputFiles.requireRegular(r.sensitivities(), "--sensitivities");
        if (r.imatrix() != null) {
            if (r.method() != SensitivityPass.Method.RTN) {
                throw new BadInputException("--imatrix", "--method gptq computes its own Hessians from --calib; an importance matrix does not apply");
            }
            InputFiles.requireRegular(r.imatrix(), "--imatrix");
        }
        if (r.candidates().isEmpty()) throw new BadInputException("--candidates", "no candidate type given");
        for (GgmlType t : r.candidates()) {
            if (!BlockCodecs.supports(t) || !dev.lowbit.ptq.search.GgmlSearches.supports(t) || !t.isQuantized() && t != GgmlType.F16) {
                throw new BadInputException("--candidates", "lowbit cannot encode " + t + " as a candidate");
            }
        }
        ArrayNode measured = JSON.createArrayNode();
        for (String m : r.measured()) {
            int eq = m.lastIndexOf('=');
            String label = eq > 0 ? m.substring(0, eq).strip() : "";
            double ppl;
            try {
                ppl = Double.parseDouble(m.substring(eq + 1).strip());
            } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
                ppl = Double.NaN;
            }
            boolean known = label.equals("plan") || REFERENCE_MIXES.stream().anyMatch(f -> f.name().equals(label));
            if (!known || !(ppl > 0) || Double.isInfinite(ppl)) {
                throw new BadInputException("--measured", "expected plan=PPL or MIX=PPL (MIX one of " + REFERENCE_MIXES + "), got '" + m + "'");
            }
            measured.addObject().put("label", label).put("perplexity", ppl);
        }
        Budget budget = Budget.parse(r.budget());
        LlamaFtype base = r.base() != null ? r.base() : budget instanceof Budget.AsMix(LlamaFtype mix) ? mix : LlamaFtype.Q4_K_M;
        List<QuantMix.TypeOverride> pins = new ArrayList<>();
        for (String p : r.pins()) {
            try {
                pins.add(QuantMix.TypeOverride.parse(p));
            } catch (IllegalArgumentException e) {
                throw new BadInputException("--pin", e.getMessage().replace("--tensor-type", "--pin"));
            }
        }

        // the base mix: everything the allocation does not choose keeps its type and counts as fixed bytes
        ExportPlan basePlan = GgufExportPlanner.plan(r.model(), QuantMix.Options.of(base).withImatrix(true)).plan();
        long params = 0, fixed = 0;
        List<PlannedTensor> linears = new ArrayList<>();
        for (PlannedTensor t : basePlan.tensors()) {
            params += elements(t.dims());
            if (LINEAR.matcher(t.name()).matches()) linears.add(t);
            else fixed += t.byteSize();
        }
        long budgetBytes = switch (budget) {
            case Budget.Bytes(long b) -> b;
            case Budget.BitsPerWeight(double bpw) -> (long) Math.floor(bpw * params / 8);
            case Budget.AsMix(LlamaFtype mix) -> GgufExportPlanner.plan(r.model(), QuantMix.Options.of(mix).withImatrix(true)).plan().dataBytes();
        };

        // the items: one per Linear, or one per Linear kind with --uniform-layers
        Map<String, List<PlannedTensor>> groups = new LinkedHashMap<>();
        for (PlannedTensor t : linears) {
            String key = r.uniformLayers() ? t.name().replaceFirst("^blk\\.\\d+\\.", "blk.*.") : t.name();
            groups.computeIfAbsent(key, k -> new ArrayList<>()).add(t);
        }
        // the feasible range depends on sizes only: refuse a budget outside it before the (long) sensitivity pass
        long minBytes = fixed, maxBytes = fixed, full = fixed;
        for (List<PlannedTensor> g : groups.values()) {
            long lo = Long.MAX_VALUE, hi = 0;
            for (GgmlType type : allowed(g, r.candidates(), pins)) {
                long b = 0;
                for (PlannedTensor t : g) b += type.byteSizeOf(elements(t.dims()));
                lo = Math.min(lo, b);
                hi = Math.max(hi, b);
            }
            minBytes += lo;
            maxBytes += hi;
            for (PlannedTensor t : g) full += GgmlType.F32.byteSizeOf(elements(t.dims()));
        }
        long upper = Math.max(maxBytes, full);
        if (budgetBytes < minBytes || budgetBytes > upper) {
            throw new BadInputException("--budget", "budget " + budgetBytes + " bytes (" + fmt(budgetBytes * 8.0 / params)
                    + " bits per weight) is outside the feasible range " + minBytes + " … " + upper + " bytes ("
                    + fmt(minBytes * 8.0 / params) + " … " + fmt(upper * 8.0 / params)
                    + " bits per weight; the upper end is the unquantized size) for these candidates and the base mix " + base);
        }

        // sensitivities: measured now, or read from an earlier report
        long t0 = System.nanoTime();
        Map<String, Map<GgmlType, Double>> error;
        double sensitivitySeconds;
        ObjectNode sensJson;
        if (r.sensitivities() != null) {
            sensJson = readSensitivities(r.sensitivities(), r.candidates(), linears);
            error = fromJson(sensJson);
            sensitivitySeconds = sensJson.path("seconds").asDouble();
        } else {
            int[][] windows = CalibrationSet.first(r.model(), r.calib(), r.calibSeqlen(), r.calibSamples());
            // KL windows: the first N calibration windows (never the evaluation text)
            int[][] klWindows = r.klWindows() == 0 ? null : java.util.Arrays.copyOf(windows, Math.min(r.klWindows(), windows.length));
            List<SensitivityPass.Scored<GgmlType>> scored = SensitivityPass.run(r.model(), windows, r.candidates(), r.method(),
                    new GptqConfig.Options(0.01, 128, true), klWindows, r.threads(), progress);
            sensitivitySeconds = (System.nanoTime() - t0) / 1e9;
            error = new LinkedHashMap<>();
            for (SensitivityPass.Scored<GgmlType> s : scored) error.put(s.name(), s.error());
            sensJson = toJson(error, r, sensitivitySeconds);
        }
        long t1 = System.nanoTime();

        List<AllocationProblem.Item> items = new ArrayList<>();
        List<List<GgmlType>> itemTypes = new ArrayList<>();
        for (Map.Entry<String, List<PlannedTensor>> g : groups.entrySet()) {
            List<AllocationProblem.Option> options = new ArrayList<>();
            List<GgmlType> types = new ArrayList<>();
            for (GgmlType type : allowed(g.getValue(), r.candidates(), pins)) {
                long bytes = 0;
                double cost = 0;
                for (PlannedTensor t : g.getValue()) {
                    bytes += type.byteSizeOf(elements(t.dims()));
                    Double e = error.get(t.name()).get(type);
                    if (e == null) throw new BadInputException("--sensitivities", "no score for " + t.name() + " as " + type);
                    cost += e;
                }
                options.add(new AllocationProblem.Option(type.name(), bytes, cost));
                types.add(type);
            }
            items.add(new AllocationProblem.Item(g.getKey(), options));
            itemTypes.add(types);
        }
        AllocationProblem problem = new AllocationProblem(items, fixed, budgetBytes);
        ExactAllocator.Result solved = ExactAllocator.solve(problem, r.timeLimit());
        double planSeconds = (System.nanoTime() - t1) / 1e9;

        List<Choice> choices = new ArrayList<>();
        List<SchemeOverride> overrides = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, List<PlannedTensor>> g : groups.entrySet()) {
            int c = solved.allocation().choiceOf(i);
            GgmlType type = itemTypes.get(i).get(c);
            AllocationProblem.Option o = items.get(i).options().get(c);
            choices.add(new Choice(g.getKey(), g.getValue().stream().map(PlannedTensor::name).toList(), type, o.bytes(), o.cost()));
            String pattern = "^" + g.getKey().replace(".", "\\.").replace("blk\\.*\\.", "blk\\.\\d+\\.") + "$";
            overrides.add(SchemeOverride.ofType(pattern, type.name()));
            i++;
        }

        // the recipe, and its size checked through llama.cpp's own rules with these overrides
        List<QuantMix.TypeOverride> asTensorTypes = overrides.stream().map(o -> QuantMix.TypeOverride.parse(o.asTensorType())).toList();
        ExportPlan planned = GgufExportPlanner.plan(r.model(), QuantMix.Options.of(base).withImatrix(true).withOverrides(asTensorTypes)).plan();
        if (planned.dataBytes() != solved.allocation().bytes()) {
            throw new IllegalStateException("the recipe plans " + planned.dataBytes() + " bytes, the allocation " + solved.allocation().bytes());
        }
        ObjectNode stepParams = JsonNodeFactory.instance.objectNode();
        Step step = new Step(r.method() == SensitivityPass.Method.GPTQ ? "gptq" : "rtn", List.of(), List.of(), stepParams);
        Path dir = r.output().toAbsolutePath().getParent();
        Recipe recipe = new Recipe(List.of(step), overrides,
                r.imatrix() != null ? null : new Recipe.Calibration(r.calib().toString(), r.calibSamples(), r.calibSeqlen(), false),
                new Output(Output.GGUF, base.name(), false, r.imatrix() == null ? null : relative(dir, r.imatrix()), false), 0)
                .validate("lowbit plan");

        Map<String, long[]> mixes = new LinkedHashMap<>();
        ObjectNode json = report(r, base, budgetBytes, params, problem, solved, sensitivitySeconds, planSeconds, choices, mixes,
                error, linears, sensJson);
        if (!measured.isEmpty()) json.set("measured", measured);
        Report rep = new Report(budgetBytes, minBytes, upper, params, solved.allocation().bytes(),
                solved.allocation().cost(), solved, sensitivitySeconds, planSeconds, choices, mixes, null, json);

        write(r, recipe, json, problem, mixes, rep);
        return rep;
    }

    /** Candidate types a group may take: those that fit every member's rows, narrowed to the pin's type if one matches. */
    private static List<GgmlType> allowed(List<PlannedTensor> group, List<GgmlType> candidates, List<QuantMix.TypeOverride> pins) {
        List<GgmlType> out = new ArrayList<>();
        for (GgmlType t : candidates) {
            boolean fits = group.stream().allMatch(p -> p.dims()[0] % t.blockSize() == 0);
            if (fits) out.add(t);
        }
        for (QuantMix.TypeOverride pin : pins) {
            boolean any = group.stream().anyMatch(p -> pin.pattern().matcher(p.name()).find());
            if (!any) continue;
            if (!out.contains(pin.type())) {
                throw new BadInputException("--pin", pin.pattern() + "=" + pin.type() + ": " + pin.type() + " is not a candidate for " + group.getFirst().name()
                        + " (candidates: " + out + ")");
            }
            return List.of(pin.type());
        }
        if (out.isEmpty()) throw new BadInputException("--candidates", "no candidate fits the rows of " + group.getFirst().name());
        return out;
    }

    private static ObjectNode report(Request r, LlamaFtype base, long budgetBytes, long params, AllocationProblem problem,
                                     ExactAllocator.Result solved, double sensSeconds, double planSeconds, List<Choice> choices,
                                     Map<String, long[]> mixes, Map<String, Map<GgmlType, Double>> error, List<PlannedTensor> linears,
                                     ObjectNode sensJson) {
        ObjectNode root = JSON.createObjectNode();
        root.put("target", "gguf");
        root.put("base_mix", base.name());
        root.put("method", r.method().name().toLowerCase(Locale.ROOT));
        root.put("budget", r.budget());
        root.put("budget_bytes", budgetBytes);
        root.put("params", params);
        root.put("feasible_min_bytes", problem.minBytes());
        root.put("feasible_max_bytes", problem.maxBytes());
        root.put("fixed_bytes", problem.fixedBytes());
        root.put("planned_bytes", solved.allocation().bytes());
        root.put("bits_per_weight", solved.allocation().bytes() * 8.0 / params);
        root.put("predicted", solved.allocation().cost());
        ObjectNode s = root.putObject("solver");
        s.put("name", "OR-Tools CP-SAT 9.15");
        s.put("optimal", solved.optimal());
        s.put("gap", solved.gap());
        s.put("seconds", solved.seconds());
        s.put("lp_bound", solved.lpBound());
        s.put("items", problem.items().size());
        root.put("sensitivity_seconds", sensSeconds);
        root.put("plan_seconds", planSeconds);
        ArrayNode ch = root.putArray("choices");
        for (Choice c : choices) {
            ch.addObject().put("tensor", c.item()).put("type", c.type().name()).put("bytes", c.bytes()).put("predicted", c.predicted());
        }
        // llama.cpp's mixes scored by the same proxy (only the Linears; the rest differs by mix and is in bytes)
        ArrayNode mx = root.putArray("mixes");
        for (LlamaFtype f : REFERENCE_MIXES) {
            ExportPlan p = GgufExportPlanner.plan(r.model(), QuantMix.Options.of(f).withImatrix(true)).plan();
            double cost = 0;
            boolean ok = true;
            for (PlannedTensor t : p.tensors()) {
                if (!LINEAR.matcher(t.name()).matches()) continue;
                Double e = error.get(t.name()).get(t.type());
                if (e == null) ok = false;
                else cost += e;
            }
            if (!ok) continue;
            mixes.put(f.name(), new long[] {p.dataBytes(), Double.doubleToLongBits(cost)});
            mx.addObject().put("mix", f.name()).put("bytes", p.dataBytes()).put("bits_per_weight", p.dataBytes() * 8.0 / params)
                    .put("predicted", cost).put("comparable", p.dataBytes() - problem.fixedBytes() > 0);
        }
        LagrangianFront front = LagrangianFront.of(problem);
        ArrayNode fr = root.putArray("front");
        for (Allocation a : front.points()) fr.addObject().put("bytes", a.bytes()).put("bits_per_weight", a.bytes() * 8.0 / params).put("predicted", a.cost());
        ArrayNode ex = root.putArray("exact_front");
        int steps = 12;
        long lo = problem.minBytes(), hi = problem.maxBytes();
        for (int k = 0; k <= steps; k++) {
            long b = lo + (hi - lo) * k / steps;
            ExactAllocator.Result e = ExactAllocator.solve(problem.withBudget(b), r.timeLimit());
            ex.addObject().put("budget_bytes", b).put("bytes", e.allocation().bytes()).put("bits_per_weight", e.allocation().bytes() * 8.0 / params)
                    .put("predicted", e.allocation().cost()).put("optimal", e.optimal()).put("seconds", e.seconds());
        }
        root.set("sensitivities", sensJson);
        return root;
    }

    private static ObjectNode toJson(Map<String, Map<GgmlType, Double>> error, Request r, double seconds) {
        ObjectNode s = JSON.createObjectNode();
        s.put("proxy", r.klWindows() > 0 ? "KL(fp || one Linear quantized), mean over tokens" : "tr(dW H dW^T)/n");
        if (r.klWindows() > 0) s.put("kl_windows", r.klWindows());
        s.put("method", r.method().name().toLowerCase(Locale.ROOT));
        s.put("calibration", r.calib().getFileName().toString());
        s.put("samples", r.calibSamples());
        s.put("seqlen", r.calibSeqlen());
        s.put("seconds", seconds);
        ObjectNode t = s.putObject("tensors");
        for (Map.Entry<String, Map<GgmlType, Double>> e : error.entrySet()) {
            ObjectNode o = t.putObject(e.getKey());
            e.getValue().forEach((type, v) -> o.put(type.name(), v));
        }
        return s;
    }

    /** The sensitivity table of an earlier report; every Linear must have a score for every candidate. */
    private static ObjectNode readSensitivities(Path file, List<GgmlType> candidates, List<PlannedTensor> linears) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new BadInputException(file, "not a plan report: " + e.getMessage().lines().findFirst().orElse(""));
        }
        JsonNode s = root.path("sensitivities");
        if (!(s instanceof ObjectNode o) || !s.path("tensors").isObject()) throw new BadInputException(file, "no 'sensitivities.tensors' table (write one with --report)");
        for (PlannedTensor t : linears) {
            JsonNode n = s.path("tensors").path(t.name());
            if (!n.isObject()) throw new BadInputException(file, "no sensitivities for tensor '" + t.name() + "'");
            for (GgmlType c : candidates) {
                JsonNode v = n.path(c.name());
                if (!v.isNumber() || !(v.asDouble() >= 0) || Double.isInfinite(v.asDouble())) {
                    throw new BadInputException(file, "tensor '" + t.name() + "': no finite score for candidate " + c);
                }
            }
        }
        return o;
    }

    private static Map<String, Map<GgmlType, Double>> fromJson(ObjectNode s) {
        Map<String, Map<GgmlType, Double>> out = new LinkedHashMap<>();
        s.path("tensors").properties().forEach(e -> {
            Map<GgmlType, Double> m = new LinkedHashMap<>();
            e.getValue().properties().forEach(v -> {
                try {
                    m.put(GgmlType.valueOf(v.getKey()), v.getValue().asDouble());
                } catch (IllegalArgumentException ignored) {
                    // a type this build does not know cannot be a candidate either
                }
            });
            out.put(e.getKey(), m);
        });
        return out;
    }

    private static void write(Request r, Recipe recipe, ObjectNode json, AllocationProblem problem, Map<String, long[]> mixes, Report rep) {
        SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("MODEL", r.model()).add("--calib", r.calib()).add("--sensitivities", r.sensitivities())
                .add("--imatrix", r.imatrix());
        Path dir = r.output().toAbsolutePath().getParent();
        String text = recipe.relativeTo(dir).toJson();
        Manifest manifest = new Manifest(text, 0);
        try {
            manifest.input("calibration", List.of(r.calib()));
            if (r.sensitivities() != null) manifest.input("sensitivities", List.of(r.sensitivities()));
            if (r.imatrix() != null) manifest.input("imatrix", List.of(r.imatrix()));
        } catch (RuntimeException e) {
            throw new BadInputException(r.calib(), "cannot read: " + e.getMessage());
        }
        writeFile(r.output(), r.force(), inputs, text, manifest);
        if (r.report() != null) {
            try {
                writeFile(r.report(), r.force(), inputs, JSON.writeValueAsString(json) + "\n", manifest);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
        if (r.plot() != null) writeFile(r.plot(), r.force(), inputs, FrontPlot.svg(json), manifest);
    }

    /** One text output (recipe, report, plot) written atomically through SafeOutput with its manifest. */
    static void writeFile(Path file, boolean force, SafeOutput.Inputs inputs, String text, Manifest manifest) {
        try (SafeOutput out = SafeOutput.file(file, force, inputs)) {
            try {
                Files.writeString(out.path(), text);
                out.commit(manifest);
            } catch (IOException | RuntimeException e) {
                throw out.failure(e);
            }
        }
    }

    /** {@code file} named relative to {@code dir} (links resolved), as recipes lowbit writes name their files. */
    private static String relative(Path dir, Path file) {
        try {
            return dir.toRealPath().relativize(file.toRealPath()).toString();
        } catch (IOException e) {
            throw new BadInputException(file, "cannot read: " + e.getMessage());
        }
    }

    static long elements(long[] dims) {
        long n = 1;
        for (long d : dims) n *= d;
        return n;
    }

    static String fmt(double v) {
        return String.format(Locale.ROOT, "%.3f", v);
    }
}
