package dev.lowbit.pipeline.recipe;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.steps.QuantizerStep;
import dev.lowbit.pipeline.steps.StepRegistry;
import dev.lowbit.pipeline.steps.StepType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A reproducible quantization run (version 2): an ordered list of {@code steps} (weight transforms, then exactly one
 * quantizer), each with {@code targets}/{@code ignore} module regexes and its parameters; per-module scheme
 * {@code overrides}; the calibration data; the {@code output} target; the seed. Saved as {@code recipe.json} next to
 * every safetensors artifact with every parameter explicit; {@code lowbit quantize --recipe FILE} replays a recipe
 * (JSON, or YAML when the file ends in {@code .yaml}/{@code .yml}). The CLI flags are sugar for a one-step recipe.
 * Version-1 recipes are upgraded in memory on reading ({@link RecipeV1#upgrade()}) and replay to the same bytes.
 *
 * <pre>
 * { "version": 2,
 *   "steps": [ { "type": "gptq", "targets": [], "ignore": ["layers\\.0\\."], "bits": 4, "group_size": 128, ... } ],
 *   "overrides": [],
 *   "calibration": { "data": "calib.txt", "samples": 128, "seqlen": 512, "random_windows": false },
 *   "output": { "format": "gptq" },
 *   "seed": 0 }
 * </pre>
 *
 * @param calibration null when no step needs data (and, for GGUF, no importance matrix is computed)
 */
public record Recipe(List<Step> steps, List<SchemeOverride> overrides, Calibration calibration, Output output, long seed) {

    public static final int VERSION = 2;
    static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    static final ObjectMapper YAML = new YAMLMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    private static final Set<String> KEYS = Set.of("version", "steps", "overrides", "calibration", "output", "seed");
    private static final Set<String> FORMATS = Set.of(Output.GPTQ, Output.COMPRESSED_TENSORS, Output.GGUF, Output.AWQ,
            Output.TRIT_PLANES, Output.SAFETENSORS, Output.DEQUANTIZED);

    /**
     * Calibration text: first {@code samples} non-overlapping windows of {@code seqlen} tokens, or seeded random ones.
     *
     * <p>In a {@code recipe.json} that lowbit writes next to an artifact, {@code data} is relative to the recipe's own
     * directory and {@code sha256} is the file's hash, so the recipe replays from any working directory and a changed
     * file is noticed ({@link #relativeTo}, {@link #read}); a hand-written recipe may give either path and no hash.
     *
     * @param sha256 hex SHA-256 of {@code data}, or null (not checked)
     */
    public record Calibration(@JsonProperty("data") String data,
                              @JsonProperty("samples") int samples,
                              @JsonProperty("seqlen") int seqlen,
                              @JsonProperty("random_windows") boolean randomWindows,
                              @JsonProperty("sha256") @JsonInclude(JsonInclude.Include.NON_NULL) String sha256) {
        public Calibration(String data, int samples, int seqlen, boolean randomWindows) {
            this(data, samples, seqlen, randomWindows, null);
        }
    }

    /**
     * This recipe as it is saved into the output directory {@code dir}: the calibration file named relative to
     * {@code dir} (links resolved on both sides), with its sha256 — no absolute path, and a replay works from anywhere.
     */
    public Recipe relativeTo(Path dir) {
        if (calibration == null) return this;
        try {
            Path data = Path.of(calibration.data()).toRealPath();
            String rel = dir.toAbsolutePath().normalize().relativize(data).toString();
            Calibration c = new Calibration(rel, calibration.samples(), calibration.seqlen(), calibration.randomWindows(),
                    Manifest.sha256(data));
            return new Recipe(steps, overrides, c, output, seed);
        } catch (IOException e) {
            throw new BadInputException(calibration.data(), "cannot read calibration data: " + firstLine(e));
        }
    }

    /**
     * Resolves a relative calibration (or gguf imatrix) path of a recipe read from {@code file}: against the recipe's
     * directory when the file is there (what lowbit writes), else against the working directory (older recipes); then
     * checks the calibration file's sha256 when the recipe has one.
     */
    private Recipe resolveFiles(Path file) {
        Path dir = file.toAbsolutePath().getParent();
        Output out = output;
        if (out != null && out.imatrix() != null) {
            Path im = Path.of(out.imatrix());
            if (!im.isAbsolute() && dir != null && Files.isRegularFile(dir.resolve(im))) {
                out = new Output(out.format(), out.type(), out.pure(), dir.resolve(im).normalize().toString(), out.allowRequantize(),
                        out.inputActivations());
            }
        }
        if (calibration == null || calibration.data() == null) return new Recipe(steps, overrides, calibration, out, seed);
        Path data = Path.of(calibration.data());
        if (!data.isAbsolute() && dir != null && Files.isRegularFile(dir.resolve(data))) data = dir.resolve(data).normalize();
        if (calibration.sha256() != null) {
            if (!Files.isRegularFile(data)) {
                throw new BadInputException(file, "calibration file " + calibration.data() + " not found (looked beside the recipe and in the current directory)");
            }
            String actual = Manifest.sha256(data);
            if (!actual.equalsIgnoreCase(calibration.sha256())) {
                throw new BadInputException(file, "calibration file " + data + " has changed since the recipe was written (sha256 "
                        + actual + ", recipe says " + calibration.sha256() + ")");
            }
        }
        Calibration c = new Calibration(data.toString(), calibration.samples(), calibration.seqlen(),
                calibration.randomWindows(), calibration.sha256());
        return new Recipe(steps, overrides, c, out, seed);
    }

    public Recipe {
        steps = List.copyOf(steps);
        overrides = overrides == null ? List.of() : List.copyOf(overrides);
    }

    /** The one quantizer step (the last step), checked and ready to run. */
    public QuantizerStep quantizer() {
        return quantizer(StepRegistry.DEFAULT);
    }

    /**
     * {@link #quantizer()} with step types from {@code registry}; {@code null} for a recipe of transforms only (output
     * format {@code safetensors}: the transformed fp checkpoint).
     */
    public QuantizerStep quantizer(StepRegistry registry) {
        StepType last = registry.get("recipe", steps.getLast().type());
        if (last.role() != StepType.Role.QUANTIZER) return null;
        return (QuantizerStep) last.configure("recipe", steps.getLast(), output);
    }

    /** The transform steps (every step before the quantizer), in recipe order, checked and ready to run. */
    public List<StepType.TransformStep> transforms(StepRegistry registry) {
        List<StepType.TransformStep> out = new ArrayList<>();
        boolean quantizes = registry.get("recipe", steps.getLast().type()).role() == StepType.Role.QUANTIZER;
        for (Step s : quantizes ? steps.subList(0, steps.size() - 1) : steps) {
            out.add((StepType.TransformStep) registry.get("recipe", s.type()).configure("recipe", s, output));
        }
        return out;
    }

    /**
     * The grid of a module the quantizer step selects: the first override whose pattern is found in the name, its
     * unset fields taken from {@code base} (the step's scheme); {@code base} when none matches.
     */
    public QuantScheme schemeFor(String module, QuantScheme base) {
        for (SchemeOverride o : overrides) {
            if (!Pattern.compile(o.pattern()).matcher(module).find()) continue;
            return new QuantScheme(o.bits() != null ? o.bits() : base.bits(),
                    o.groupSize() != null ? o.groupSize() : base.groupSize(),
                    o.symmetric() != null ? o.symmetric() : base.symmetric());
        }
        return base;
    }

    /** Whether the quantizer step selects the module (e.g. {@code model.layers.0.self_attn.q_proj}). */
    public boolean selects(String module) {
        return steps.getLast().selects(module);
    }

    /**
     * Checks the whole recipe against the step registry: step order and parameters, patterns, output, calibration.
     * Returns it with every step parameter explicit (defaults filled in). Throws a one-line
     * {@link BadInputException} naming {@code source}.
     */
    public Recipe validate(String source) {
        return validate(source, StepRegistry.DEFAULT);
    }

    public Recipe validate(String source, StepRegistry registry) {
        if (output == null || output.format() == null) throw new BadInputException(source, "recipe has no output format");
        if (!FORMATS.contains(output.format())) {
            throw new BadInputException(source, "unknown format '" + output.format() + "' (supported: gptq, compressed-tensors, gguf, awq, trit-planes, safetensors)");
        }
        checkOutput(source);
        if (steps.isEmpty()) throw new BadInputException(source, "recipe has no steps (it needs one quantizer: "
                + String.join(", ", registry.names(StepType.Role.QUANTIZER)) + ")");
        List<Step> resolved = new ArrayList<>();
        List<StepType.TransformStep> configured = new ArrayList<>();
        QuantizerStep quantizer = null;
        boolean transformsNeedData = false;
        for (int i = 0; i < steps.size(); i++) {
            Step s = steps.get(i);
            StepType type = registry.get(source, s.type());
            boolean last = i == steps.size() - 1;
            if (type.role() == StepType.Role.QUANTIZER && !last) {
                throw new BadInputException(source, "step " + (i + 1) + " '" + s.type() + "' is a quantizer; only the last step may quantize");
            }
            boolean fp = Output.SAFETENSORS.equals(output.format());
            if (type.role() != StepType.Role.QUANTIZER && last && !fp) {
                throw new BadInputException(source, "the last step must be a quantizer ("
                        + String.join(", ", registry.names(StepType.Role.QUANTIZER)) + "), got '" + s.type()
                        + "' (a recipe of transforms only writes format safetensors)");
            }
            if (type.role() == StepType.Role.QUANTIZER && fp) {
                throw new BadInputException(source, "format safetensors is the fp checkpoint of a recipe of transforms only; step '"
                        + s.type() + "' quantizes (use format gptq, compressed-tensors, awq or gguf)");
            }
            for (String p : s.targets()) compile(source, p);
            for (String p : s.ignore()) compile(source, p);
            StepType.Configured c = type.configure(source, s, output);
            resolved.add(c.step());
            if (c instanceof QuantizerStep q) quantizer = q;
            else {
                configured.add((StepType.TransformStep) c);
                if (((StepType.TransformStep) c).transform().needsCalibration()) transformsNeedData = true;
            }
        }
        checkFullPrecisionInputs(source, resolved, configured, quantizer);
        checkTritTransforms(source, resolved, quantizer);
        if (output.isGguf() && (!steps.getLast().targets().isEmpty() || !steps.getLast().ignore().isEmpty())) {
            throw new BadInputException(source, "format gguf: the quantizer's targets/ignore are not supported "
                    + "(choose per-tensor types with overrides, e.g. {\"pattern\": \"ffn_down\", \"type\": \"F16\"})");
        }
        checkOverrides(source);
        checkInputActivations(source, quantizer);
        if (staticInputActivations() && calibration == null) {
            throw new BadInputException(source, "input_activations " + output.inputActivations() + ": static activation scales "
                    + "are measured on calibration data (--calib FILE)");
        }
        checkCalibration(source, quantizer, transformsNeedData || staticInputActivations());
        return new Recipe(resolved, overrides, calibration, output, seed);
    }

    /**
     * Before a trit-plane quantizer, a transform that scores its candidates with the Linears fake-quantized onto their
     * planned grid (awq, smooth) needs that grid: it exists for {@code ptqtp} (the data-free PTQTP fit), not for the
     * other trit steps (binarize, pb-llm, ternary-rtn; smooth with a fixed alpha searches nothing and is allowed). awq's clip search rounds onto an integer grid
     * ({@code clip_bits}), which is not what ptqtp writes: {@code clip: false} there.
     */
    private static void checkTritTransforms(String source, List<Step> resolved, QuantizerStep quantizer) {
        if (quantizer == null) return;
        String q = quantizer.name();
        if (!List.of("ptqtp", "binarize", "pb-llm", "ternary-rtn").contains(q)) return;
        for (Step r : resolved) {
            boolean awq = r.type().equals("awq");
            boolean searches = awq || (r.type().equals("smooth") && "search".equals(r.params().path("alpha").asText()));
            if (!searches) continue;
            if (!q.equals("ptqtp")) {
                throw new BadInputException(source, "step '" + r.type() + "' before '" + q + "': its search fake-quantizes onto"
                        + " the quantizer's grid, which exists for ptqtp only among the trit-plane steps");
            }
            if (awq && r.params().path("clip").asBoolean(true)) {
                throw new BadInputException(source, "step 'awq' before 'ptqtp': clip searches an integer grid (clip_bits), not two"
                        + " trit-planes; set clip: false");
            }
        }
    }

    /** The transform parameter that asks for the next layer to be calibrated on fp outputs (awq's). */
    static final String FP_INPUTS = "fp_inputs";

    /**
     * {@code fp_inputs: true} takes effect only when the quantizer observes nothing (rtn: GPTQ's Hessians need the
     * quantized layer's outputs) and every other transform of the recipe allows it
     * ({@link dev.lowbit.ptq.transform.WeightTransform#fullPrecisionInputs()}). Set by the user where it cannot take
     * effect, it is refused; left at its default there, it is recorded as {@code false} (what the run does), so that the
     * written recipe states the behaviour and replays. Edits {@code resolved} in place.
     */
    private void checkFullPrecisionInputs(String source, List<Step> resolved, List<StepType.TransformStep> transforms,
                                          QuantizerStep quantizer) {
        if (quantizer == null) return;
        for (int i = 0; i < transforms.size(); i++) {
            Step r = resolved.get(i);
            if (!r.params().path(FP_INPUTS).asBoolean(false)) continue;
            String reason = null;
            if (quantizer.needsCalibration()) {
                reason = "'" + steps.getLast().type() + "' calibrates each layer on the quantized outputs of the one before";
            } else {
                for (int j = 0; j < transforms.size(); j++) {
                    if (j != i && !transforms.get(j).transform().fullPrecisionInputs()) {
                        reason = "step '" + resolved.get(j).type() + "' needs each layer calibrated on the quantized outputs of the one before";
                        break;
                    }
                }
            }
            if (reason == null) continue;
            if (steps.get(i).params().has(FP_INPUTS)) {
                throw new BadInputException(source, "step '" + r.type() + "': fp_inputs: true does not apply here: " + reason);
            }
            resolved.set(i, r.withParams(r.params().deepCopy().put(FP_INPUTS, false)));
        }
    }

    private void checkOutput(String source) {
        if (output.isGguf()) {
            // "" is no type either: it would be dropped when the recipe is written, and the replay refused (fuzzing)
            if (output.type() == null || output.type().isEmpty()) throw new BadInputException(source, "format gguf needs a type (a llama.cpp mix, e.g. Q4_K_M)");
            return;
        }
        if (output.type() != null || output.pure() || output.imatrix() != null || output.allowRequantize()) {
            throw new BadInputException(source, "format " + output.format() + ": type, pure, imatrix and allow_requantize apply to format gguf only");
        }
    }

    /**
     * {@code output.input_activations}: a scheme name the writer can declare. Today that is FP8 per token (dynamic)
     * beside FP8 weights in compressed-tensors {@code float-quantized} (llm-compressor's FP8_DYNAMIC, W8A8-FP8).
     */
    private void checkInputActivations(String source, QuantizerStep quantizer) {
        String name = output.inputActivations();
        if (name == null) return;
        dev.lowbit.io.quant.ActivationScheme a = dev.lowbit.io.quant.ActivationScheme.named(name);
        if (a == null) {
            throw new BadInputException(source, "input_activations '" + name + "' is not a scheme (intN-token, intN-tensor, "
                    + "intN-tensor-dynamic, fp8-token, fp8-tensor, fp8-tensor-dynamic)");
        }
        if (!Output.COMPRESSED_TENSORS.equals(output.format())) {
            throw new BadInputException(source, "input_activations: format " + output.format() + " cannot declare activation quantization "
                    + "(format compressed-tensors can)");
        }
        boolean fp8Weights = quantizer != null && quantizer.scheme() != null && dev.lowbit.io.quant.FloatSchemes.isFloat(quantizer.scheme())
                && quantizer.scheme().bits() == 8;
        dev.lowbit.io.quant.QuantScheme w = quantizer == null ? null : quantizer.scheme();
        boolean int8Channel = new dev.lowbit.io.quant.QuantScheme(8, -1, true).equals(w);
        if (int8Channel && dev.lowbit.io.ct.CtConfig.canStore(a) && overrides.isEmpty()) return; // int-quantized W8A8
        if (!name.equals("fp8-token") || !fp8Weights || !overrides.isEmpty()) {
            throw new BadInputException(source, "input_activations " + name + ": lowbit writes FP8 per-token activations (fp8-token) "
                    + "with FP8 weights (scheme fp8), and int8-token / int8-tensor with int 8-bit symmetric per-channel weights "
                    + "(compressed-tensors int-quantized, W8A8), no overrides; not " + name + " with " + (w == null ? "no quantizer" : w));
        }
    }

    /**
     * Whether the output declares static per-tensor input activations: their scales are measured on the calibration
     * windows while the layers are quantized (so the run needs calibration data even with a data-free quantizer).
     */
    public boolean staticInputActivations() {
        if (output.inputActivations() == null) return false;
        dev.lowbit.io.quant.ActivationScheme a = dev.lowbit.io.quant.ActivationScheme.named(output.inputActivations());
        return a != null && !a.dynamic();
    }

    private void checkOverrides(String source) {
        if (Output.SAFETENSORS.equals(output.format()) && !overrides.isEmpty()) {
            throw new BadInputException(source, "format safetensors quantizes nothing; overrides do not apply");
        }
        if (Output.TRIT_PLANES.equals(output.format()) && !overrides.isEmpty()) {
            throw new BadInputException(source, "format trit-planes: overrides are not supported (choose modules with the step's targets/ignore)");
        }
        for (SchemeOverride o : overrides) {
            if (o.pattern() == null) throw new BadInputException(source, "an override has no pattern");
            compile(source, o.pattern());
            boolean grid = o.bits() != null || o.groupSize() != null || o.symmetric() != null;
            if (output.isGguf()) {
                if (grid || o.type() == null) {
                    throw new BadInputException(source, "override '" + o.pattern() + "': format gguf takes a ggml type (e.g. \"type\": \"Q6_K\"), not bits/group_size/symmetric");
                }
            } else {
                if (o.type() != null || !grid) {
                    throw new BadInputException(source, "override '" + o.pattern() + "': format " + output.format()
                            + " takes bits, group_size and/or symmetric, not a ggml type");
                }
                if (o.bits() != null && (o.bits() < 2 || o.bits() > 8)) {
                    throw new BadInputException(source, "override '" + o.pattern() + "': bits must be 2..8, got " + o.bits());
                }
                if (o.groupSize() != null && o.groupSize() != -1 && o.groupSize() < 1) {
                    throw new BadInputException(source, "override '" + o.pattern() + "': group size must be -1 (per channel) or positive, got " + o.groupSize());
                }
            }
        }
    }

    private void checkCalibration(String source, QuantizerStep quantizer, boolean transformsNeedData) {
        if (calibration != null && (calibration.samples() < 1 || calibration.seqlen() < 2)) {
            throw new BadInputException(source, "calibration needs at least 1 sample of at least 2 tokens");
        }
        if (calibration != null && calibration.data() == null) throw new BadInputException(source, "calibration has no data file");
        if (output.isGguf()) {
            if (calibration != null && output.imatrix() != null) {
                throw new BadInputException(source, "format gguf: give either an imatrix or calibration data, not both");
            }
            if (calibration != null && calibration.randomWindows()) {
                throw new BadInputException(source, "format gguf: the importance matrix uses the first windows; random_windows is not supported");
            }
            return;
        }
        if (transformsNeedData && calibration == null) {
            throw new BadInputException(source, "a transform step needs calibration data (--calib FILE)");
        }
        if (quantizer == null) {
            if (!transformsNeedData && calibration != null) {
                throw new BadInputException(source, "no step of this recipe uses calibration data");
            }
            return;
        }
        if (quantizer.needsCalibration() && calibration == null) {
            throw new BadInputException(source, quantizer.name() + " needs calibration data (--calib FILE)");
        }
        if (!quantizer.needsCalibration() && !transformsNeedData && calibration != null) {
            throw new BadInputException(source, quantizer.name() + " is data-free; calibration data would not be used");
        }
    }

    private static void compile(String source, String regex) {
        try {
            Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new BadInputException(source, "invalid module pattern '" + regex + "': " + e.getDescription());
        }
    }

    // ------------------------------------------------------------------ reading and writing

    /** The recipe as version-2 JSON, every key in a fixed order. */
    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", VERSION);
        ArrayNode st = root.putArray("steps");
        for (Step s : steps) {
            ObjectNode o = st.addObject();
            o.put("type", s.type());
            ArrayNode t = o.putArray("targets");
            s.targets().forEach(t::add);
            ArrayNode ig = o.putArray("ignore");
            s.ignore().forEach(ig::add);
            o.setAll(s.params());
        }
        root.set("overrides", JSON.valueToTree(overrides));
        if (calibration != null) root.set("calibration", JSON.valueToTree(calibration));
        root.set("output", JSON.valueToTree(output));
        root.put("seed", seed);
        try {
            return JSON.writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads and validates a recipe file: JSON, or YAML for {@code .yaml}/{@code .yml}; version 1 or 2. */
    public static Recipe read(Path file) {
        dev.lowbit.io.InputFiles.requireRegular(file, "recipe");
        byte[] content;
        try {
            content = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new BadInputException(file, "cannot read recipe: " + firstLine(e));
        }
        return read(file, content);
    }

    /**
     * {@link #read(Path)} of a recipe whose bytes are already in memory ({@code file} names it, picks JSON or YAML by
     * its extension and is where relative paths resolve); the bytes must be UTF-8. Used by the fuzz target.
     */
    static Recipe read(Path file, byte[] content) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        ObjectMapper mapper = name.endsWith(".yaml") || name.endsWith(".yml") ? YAML : JSON;
        JsonNode root;
        try {
            String text = StandardCharsets.UTF_8.newDecoder() // strict, as Files.readString: malformed input is refused
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(content)).toString();
            root = mapper.readTree(text);
        } catch (IOException e) {
            throw new BadInputException(file, "cannot read recipe: " + firstLine(e));
        }
        return parse(file.toString(), root).validate(file.toString()).resolveFiles(file);
    }

    /** Parses a recipe tree (version 1 or 2) without validating it. */
    static Recipe parse(String source, JsonNode root) {
        if (root == null || !root.isObject()) throw new BadInputException(source, "a recipe is an object with a version");
        JsonNode v = root.get("version");
        if (v == null || !v.isInt()) throw new BadInputException(source, "recipe has no integer version");
        try {
            if (v.intValue() == 1) {
                RecipeV1 old = JSON.treeToValue(root, RecipeV1.class);
                if (old.scheme() == null) throw new BadInputException(source, "recipe has no scheme");
                // YAML's empty node (a bare anchor "&a", or "~") is a null entry; a step's lists hold regexes only
                if ((old.targets() != null && old.targets().contains(null)) || (old.ignore() != null && old.ignore().contains(null))) {
                    throw new BadInputException(source, "'targets' and 'ignore' must be lists of regexes");
                }
                return old.upgrade();
            }
            if (v.intValue() != VERSION) {
                throw new BadInputException(source, "recipe version " + v.intValue() + " is not supported (expected 1 or " + VERSION + ")");
            }
            for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!KEYS.contains(k)) throw new BadInputException(source, "unknown recipe key '" + k + "' (keys: " + String.join(", ", KEYS.stream().sorted().toList()) + ")");
            }
            List<Step> steps = new ArrayList<>();
            JsonNode st = root.path("steps");
            if (!st.isMissingNode() && !st.isArray()) throw new BadInputException(source, "'steps' must be a list");
            for (JsonNode s : st) steps.add(step(source, s));
            List<SchemeOverride> overrides = new ArrayList<>();
            JsonNode ov = root.path("overrides");
            if (!ov.isMissingNode() && !ov.isArray()) throw new BadInputException(source, "'overrides' must be a list");
            for (JsonNode o : ov) {
                // a bare "-" in YAML is a null entry, which Jackson would map to a null override
                if (!o.isObject()) throw new BadInputException(source, "every override is an object with a \"pattern\"");
                overrides.add(JSON.treeToValue(o, SchemeOverride.class));
            }
            Calibration cal = root.hasNonNull("calibration") ? JSON.treeToValue(root.get("calibration"), Calibration.class) : null;
            Output out = root.hasNonNull("output") ? JSON.treeToValue(root.get("output"), Output.class) : null;
            JsonNode seed = root.path("seed");
            if (!seed.isMissingNode() && !seed.canConvertToLong()) throw new BadInputException(source, "'seed' must be an integer");
            return new Recipe(steps, overrides, cal, out, seed.asLong(0));
        } catch (JsonProcessingException e) {
            throw new BadInputException(source, "cannot read recipe: " + firstLine(e));
        }
    }

    private static Step step(String source, JsonNode s) {
        if (!s.isObject() || !s.path("type").isTextual()) throw new BadInputException(source, "every step is an object with a \"type\"");
        ObjectNode params = ((ObjectNode) s).deepCopy();
        params.remove(List.of("type", "targets", "ignore"));
        return new Step(s.get("type").asText(), strings(source, s, "targets"), strings(source, s, "ignore"), params);
    }

    private static List<String> strings(String source, JsonNode step, String key) {
        JsonNode a = step.path(key);
        if (a.isMissingNode() || a.isNull()) return List.of();
        List<String> out = new ArrayList<>();
        if (a.isArray()) {
            for (JsonNode n : a) {
                if (!n.isTextual()) throw new BadInputException(source, "step '" + step.path("type").asText() + "': '" + key + "' must be a list of regexes");
                out.add(n.asText());
            }
            return out;
        }
        throw new BadInputException(source, "step '" + step.path("type").asText() + "': '" + key + "' must be a list of regexes");
    }

    private static String firstLine(Exception e) {
        String m = e.getMessage();
        return m == null ? e.toString() : m.split("\n")[0];
    }
}
