package dev.lowbit.batch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.pipeline.steps.StepRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A sweep file, read, checked and expanded into jobs before any job starts. Every problem is a one-line
 * {@link BadInputException} naming the sweep line ({@code sweep.yaml:7: unknown step 'awq' ...}).
 *
 * <pre>
 * version: 1
 * models: [../shared/models/tiny-llama-code]          # or {name: tiny, path: ...}; relative to the sweep file
 * calibration: {data: ../shared/data/calib_code.txt, samples: 128, seqlen: 512}   # for calibrated steps (gptq)
 * evaluation: {data: ../shared/data/eval_code.txt, ctx: 512, max_windows: 0, protocol: reference}
 * grid:                                                # methods x formats x (bits x group_sizes | types)
 *   methods: [rtn, gptq]
 *   bits: [4, 3]                                       # gptq / compressed-tensors formats
 *   group_sizes: [128]                                 # -1 = per output channel
 *   formats: [gptq, gguf]
 *   types: [Q4_K_M]                                    # gguf: llama.cpp mixes (the type fixes the grid)
 * recipes: [my-recipe.yaml]                            # whole recipes, one job per model each
 * gates: [{metric: ppl_ratio, max: 1.02}, {metric: top1, min: 0.9}]
 * </pre>
 */
record Sweep(Path file, List<JobSpec> jobs, Evaluation evaluation, List<Gate> gates, String json) {
    private static final Set<String> TOP = Set.of("version", "models", "calibration", "evaluation", "grid", "recipes", "gates");
    private static final Set<String> GRID = Set.of("methods", "bits", "group_sizes", "formats", "types");
    private static final Set<String> FORMATS = Set.of(Output.GPTQ, Output.COMPRESSED_TENSORS, Output.GGUF);

    private record Model(String name, Path path, long parameters) {}

    static Sweep read(Path file) {
        LinedTree t = LinedTree.read(file);
        JsonNode root = t.root;
        if (!root.isObject()) throw t.error("", "a sweep is a mapping with version, models, evaluation and grid or recipes");
        keys(t, "", root, TOP);
        if (!root.path("version").isIntegralNumber() || root.path("version").intValue() != 1) {
            throw t.error("/version", "version must be 1");
        }
        Path dir = file.toAbsolutePath().getParent();
        List<Model> models = models(t, dir);
        Recipe.Calibration calibration = calibration(t, dir);
        Evaluation evaluation = evaluation(t, dir);
        List<JobSpec> jobs = new ArrayList<>();
        if (!root.has("grid") && !root.has("recipes")) throw t.error("", "a sweep needs a grid or recipes (or both)");
        for (Model m : models) {
            if (root.has("grid")) grid(t, m, calibration, jobs);
            if (root.has("recipes")) recipes(t, dir, m, jobs);
        }
        if (calibration != null && jobs.stream().noneMatch(j -> j.recipeJson().contains("\"calibration\""))) {
            throw t.error("/calibration", "no job of the sweep calibrates (rtn is data-free): calibration would not be used");
        }
        Map<String, String> seen = new HashMap<>();
        for (JobSpec j : jobs) {
            String earlier = seen.put(j.id(), j.source());
            if (earlier != null) throw new BadInputException(j.source(), "job " + j.id() + " is the same as the one from " + earlier);
        }
        if (jobs.isEmpty()) throw t.error("", "the sweep has no jobs");
        return new Sweep(file, List.copyOf(jobs), evaluation, gates(t), root.toString());
    }

    // ------------------------------------------------------------------ sections

    private static List<Model> models(LinedTree t, Path dir) {
        JsonNode ms = t.root.path("models");
        if (!ms.isArray() || ms.isEmpty()) throw t.error("/models", "models must be a list of model directories or .gguf files");
        List<Model> out = new ArrayList<>();
        Set<String> names = new java.util.HashSet<>();
        for (int i = 0; i < ms.size(); i++) {
            String at = "/models/" + i;
            JsonNode m = ms.get(i);
            String path;
            String name = null;
            if (m.isTextual()) {
                path = m.asText();
            } else if (m.isObject()) {
                keys(t, at, m, Set.of("name", "path"));
                path = text(t, at + "/path", m.get("path"));
                if (m.has("name")) name = text(t, at + "/name", m.get("name"));
            } else {
                throw t.error(at, "a model is a path or {name, path}");
            }
            Path p = dir.resolve(path).normalize();
            if (name == null) name = p.getFileName() == null ? "model" : p.getFileName().toString().replaceFirst("\\.gguf$", "");
            if (!name.matches("[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")) {
                throw t.error(at, "model name '" + name + "' must be letters, digits and _ . + - (it names directories)");
            }
            if (!names.add(name)) throw t.error(at, "two models are named '" + name + "' (give one a name:)");
            long parameters;
            try (ModelSource src = ModelSource.open(p)) {
                src.architecture();
                parameters = 0;
                for (String tensor : src.tensorNames()) {
                    long n = 1;
                    for (long d : src.shape(tensor)) n = Math.multiplyExact(n, d);
                    parameters += n;
                }
            } catch (BadInputException e) {
                throw t.error(at, "model " + e.userMessage());
            }
            out.add(new Model(name, p, parameters));
        }
        return out;
    }

    private static Recipe.Calibration calibration(LinedTree t, Path dir) {
        JsonNode c = t.root.get("calibration");
        if (c == null) return null;
        if (!c.isObject()) throw t.error("/calibration", "calibration is {data, samples, seqlen}");
        keys(t, "/calibration", c, Set.of("data", "samples", "seqlen"));
        Path data = file(t, dir, "/calibration/data", c.get("data"), "calibration data");
        int samples = integer(t, "/calibration/samples", c.get("samples"), 128, 1);
        int seqlen = integer(t, "/calibration/seqlen", c.get("seqlen"), 512, 2);
        return new Recipe.Calibration(data.toString(), samples, seqlen, false, Manifest.sha256(data));
    }

    private static Evaluation evaluation(LinedTree t, Path dir) {
        JsonNode e = t.root.get("evaluation");
        if (e == null || !e.isObject()) throw t.error("/evaluation", "evaluation {data: FILE, ctx, max_windows, protocol} is required");
        keys(t, "/evaluation", e, Set.of("data", "ctx", "max_windows", "protocol"));
        Path data = file(t, dir, "/evaluation/data", e.get("data"), "evaluation data");
        int ctx = integer(t, "/evaluation/ctx", e.get("ctx"), 512, 2);
        int windows = integer(t, "/evaluation/max_windows", e.get("max_windows"), 0, 0);
        String protocol = e.has("protocol") ? text(t, "/evaluation/protocol", e.get("protocol")) : "reference";
        if (!protocol.equals("reference") && !protocol.equals("llamacpp")) {
            throw t.error("/evaluation/protocol", "protocol must be reference or llamacpp, not '" + protocol + "'");
        }
        return new Evaluation(data.toString(), ctx, windows, protocol);
    }

    private static void grid(LinedTree t, Model m, Recipe.Calibration calibration, List<JobSpec> jobs) {
        JsonNode g = t.root.get("grid");
        if (!g.isObject()) throw t.error("/grid", "grid is {methods, bits, group_sizes, formats, types}");
        keys(t, "/grid", g, GRID);
        List<Integer> bits = ints(t, "/grid/bits", g.get("bits"), 4);
        List<Integer> groups = ints(t, "/grid/group_sizes", g.get("group_sizes"), 128);
        for (int i = 0; i < bits.size(); i++) {
            if (bits.get(i) < 2 || bits.get(i) > 8) throw t.error("/grid/bits/" + i, "bits must be 2..8, got " + bits.get(i));
        }
        for (int i = 0; i < groups.size(); i++) {
            int gs = groups.get(i);
            if (gs != -1 && gs < 1) throw t.error("/grid/group_sizes/" + i, "group size must be -1 (per channel) or positive, got " + gs);
        }
        List<String> methods = texts(t, "/grid/methods", g.get("methods"), null);
        List<String> formats = texts(t, "/grid/formats", g.get("formats"), "gptq");
        List<String> types = texts(t, "/grid/types", g.get("types"), "Q4_K_M");
        for (int i = 0; i < methods.size(); i++) {
            var step = StepRegistry.DEFAULT.get(t.at("/grid/methods/" + i), methods.get(i));
            if (step.role() != dev.lowbit.pipeline.steps.StepType.Role.QUANTIZER) {
                throw t.error("/grid/methods/" + i, "'" + methods.get(i) + "' is a transform step, not a quantizer: "
                        + "grid methods are quantizers; put transforms in a recipe (steps: [" + methods.get(i) + ", rtn])");
            }
        }
        for (int i = 0; i < formats.size(); i++) {
            if (!FORMATS.contains(formats.get(i))) {
                throw t.error("/grid/formats/" + i, "unknown format '" + formats.get(i) + "' (supported: gptq, compressed-tensors, gguf)");
            }
        }
        for (int i = 0; i < types.size(); i++) {
            try {
                LlamaFtype.parse(types.get(i));
            } catch (IllegalArgumentException e) {
                throw t.error("/grid/types/" + i, e.getMessage());
            }
        }
        if (g.has("types") && !formats.contains(Output.GGUF)) throw t.error("/grid/types", "types apply to format gguf, which the grid does not list");
        if ((g.has("bits") || g.has("group_sizes")) && formats.stream().allMatch(Output.GGUF::equals)) {
            throw t.error(g.has("bits") ? "/grid/bits" : "/grid/group_sizes", "bits and group sizes do not apply to format gguf (its types fix the grid)");
        }
        for (int mi = 0; mi < methods.size(); mi++) {
            String method = methods.get(mi);
            String source = t.at("/grid/methods/" + mi);
            boolean calibrated = needsCalibration(method);
            if (calibrated && calibration == null) throw t.error("/grid/methods/" + mi, method + " needs calibration: {data: FILE}");
            for (String format : formats) {
                if (format.equals(Output.GGUF)) {
                    for (String type : types) {
                        Recipe r = new Recipe(List.of(new Step(method, List.of(), List.of(), null)), List.of(),
                                calibrated ? calibration : null, new Output(Output.GGUF, type, false, null, false), 0);
                        jobs.add(job(m, method, format, type, 0, 0, r.validate(source), source));
                    }
                } else {
                    for (int b : bits) {
                        for (int gs : groups) {
                            ObjectNode p = JsonNodeFactory.instance.objectNode();
                            p.put("bits", b);
                            p.put("group_size", gs);
                            Recipe r = new Recipe(List.of(new Step(method, List.of(), List.of(), p)), List.of(),
                                    calibrated ? calibration : null, Output.of(format), 0);
                            String scheme = "w" + b + (gs == -1 ? "pc" : "g" + gs);
                            jobs.add(job(m, method, format, scheme, b, gs, r.validate(source), source));
                        }
                    }
                }
            }
        }
    }

    private static void recipes(LinedTree t, Path dir, Model m, List<JobSpec> jobs) {
        JsonNode rs = t.root.get("recipes");
        if (!rs.isArray()) throw t.error("/recipes", "recipes must be a list of recipe files");
        for (int i = 0; i < rs.size(); i++) {
            String at = "/recipes/" + i;
            Path file = file(t, dir, at, rs.get(i), "recipe");
            Recipe r;
            try {
                r = Recipe.read(file);
            } catch (BadInputException e) {
                throw t.error(at, e.userMessage());
            }
            if (r.calibration() != null) {
                Path data = Path.of(r.calibration().data()).toAbsolutePath().normalize();
                var c = r.calibration();
                r = new Recipe(r.steps(), r.overrides(), new Recipe.Calibration(data.toString(), c.samples(), c.seqlen(),
                        c.randomWindows(), Manifest.sha256(data)), r.output(), r.seed());
            }
            String stem = file.getFileName().toString().replaceFirst("\\.(json|ya?ml)$", "");
            String method = r.steps().getLast().type();
            jobs.add(job(m, method, r.output().format(), stem, 0, 0, r, t.at(at)));
        }
    }

    private static List<Gate> gates(LinedTree t) {
        JsonNode gs = t.root.get("gates");
        if (gs == null) return List.of();
        if (!gs.isArray()) throw t.error("/gates", "gates must be a list of {metric, max} or {metric, min}");
        List<Gate> out = new ArrayList<>();
        for (int i = 0; i < gs.size(); i++) {
            String at = "/gates/" + i;
            JsonNode g = gs.get(i);
            if (!g.isObject()) throw t.error(at, "a gate is {metric: NAME, max: X} or {metric: NAME, min: X}");
            keys(t, at, g, Set.of("metric", "max", "min"));
            String metric = text(t, at + "/metric", g.get("metric"));
            if (!Gate.METRICS.containsKey(metric)) {
                throw t.error(at + "/metric", "unknown metric '" + metric + "' (gates take: "
                        + String.join(", ", new java.util.TreeSet<>(Gate.METRICS.keySet())) + ")");
            }
            if (g.has("max") == g.has("min")) throw t.error(at, "a gate has exactly one of max or min");
            String bound = g.has("max") ? "max" : "min";
            if (!g.get(bound).isNumber() || !Double.isFinite(g.get(bound).doubleValue())) {
                throw t.error(at + "/" + bound, bound + " must be a finite number");
            }
            out.add(new Gate(metric, g.has("max"), g.get(bound).doubleValue(), t.at(at)));
        }
        return out;
    }

    /** Whether the step calibrates (a quantizer that says so; GPTQ today). */
    private static boolean needsCalibration(String method) {
        return new Recipe(List.of(new Step(method, List.of(), List.of(), null)), List.of(), null, Output.of(Output.GPTQ), 0)
                .quantizer().needsCalibration();
    }

    // ------------------------------------------------------------------ one job

    private static JobSpec job(Model m, String method, String format, String scheme, int bits, int groupSize, Recipe r,
                               String source) {
        String recipeJson = r.toJson();
        String id = m.name() + "." + method + "." + scheme + "." + format;
        return new JobSpec(id, m.name(), m.path().toString(), method, format, scheme, bits, groupSize, recipeJson,
                sha256(m.path() + "\n" + recipeJson), m.parameters(), source);
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ------------------------------------------------------------------ small readers

    private static void keys(LinedTree t, String at, JsonNode o, Set<String> allowed) {
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                throw t.error(at + "/" + k, "unknown key '" + k + "' (expected: " + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
            }
        }
    }

    private static String text(LinedTree t, String at, JsonNode v) {
        if (v == null || !v.isTextual() || v.asText().isBlank()) throw t.error(at, at.substring(at.lastIndexOf('/') + 1) + " must be a non-empty string");
        return v.asText();
    }

    private static Path file(LinedTree t, Path dir, String at, JsonNode v, String what) {
        Path p = dir.resolve(text(t, at, v)).normalize();
        if (!Files.isRegularFile(p)) throw t.error(at, what + " " + v.asText() + " is not a file (" + (Files.exists(p) ? "not a regular file" : "not found") + ")");
        return p;
    }

    private static int integer(LinedTree t, String at, JsonNode v, int dflt, int min) {
        if (v == null) return dflt;
        if (!v.isIntegralNumber() || v.longValue() < min || v.longValue() > Integer.MAX_VALUE) {
            throw t.error(at, at.substring(at.lastIndexOf('/') + 1) + " must be an integer >= " + min);
        }
        return v.intValue();
    }

    private static List<Integer> ints(LinedTree t, String at, JsonNode v, int dflt) {
        if (v == null) return List.of(dflt);
        if (!v.isArray() || v.isEmpty()) throw t.error(at, at.substring(at.lastIndexOf('/') + 1) + " must be a non-empty list of integers");
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            if (!v.get(i).isIntegralNumber()) throw t.error(at + "/" + i, "expected an integer, got " + v.get(i));
            out.add(v.get(i).intValue());
        }
        return out;
    }

    private static List<String> texts(LinedTree t, String at, JsonNode v, String dflt) {
        String key = at.substring(at.lastIndexOf('/') + 1);
        if (v == null) {
            if (dflt == null) throw t.error(at.substring(0, at.lastIndexOf('/')), key + " is required");
            return List.of(dflt);
        }
        if (!v.isArray() || v.isEmpty()) throw t.error(at, key + " must be a non-empty list");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) out.add(text(t, at + "/" + i, v.get(i)));
        return out;
    }
}
