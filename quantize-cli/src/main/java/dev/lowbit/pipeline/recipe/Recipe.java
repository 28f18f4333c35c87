package dev.lowbit.pipeline.recipe;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A reproducible quantization run: which quantizer with which scheme on which modules, the calibration data and
 * seed, and the output format. Saved as {@code recipe.json} next to every artifact; {@code --recipe FILE} replays it.
 * The CLI flags are sugar for a one-step recipe.
 *
 * @param method      {@code rtn} or {@code gptq}
 * @param targets     regexes over module names (e.g. {@code model.layers.3.mlp.down_proj}) selecting what to quantize;
 *                    empty = every Linear inside the decoder layers
 * @param ignore      regexes of modules left unquantized (applied after {@code targets})
 * @param calibration null for data-free methods (RTN)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Recipe(
        @JsonProperty("version") int version,
        @JsonProperty("method") String method,
        @JsonProperty("scheme") Scheme scheme,
        @JsonProperty("gptq") Gptq gptq,
        @JsonProperty("targets") List<String> targets,
        @JsonProperty("ignore") List<String> ignore,
        @JsonProperty("calibration") Calibration calibration,
        @JsonProperty("format") String format,
        @JsonProperty("seed") long seed) {

    public static final int VERSION = 1;
    static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** Integer grid: bits 2–8, group size along in_features (−1 = per output channel), symmetric or zero point. */
    public record Scheme(@JsonProperty("bits") int bits,
                         @JsonProperty("group_size") int groupSize,
                         @JsonProperty("symmetric") boolean symmetric,
                         @JsonProperty("mse_clip") boolean mseClip) {}

    /** GPTQ knobs, named as in the reference implementation. */
    public record Gptq(@JsonProperty("damp_percent") double dampPercent,
                       @JsonProperty("block_size") int blockSize,
                       @JsonProperty("desc_act") boolean actOrder,
                       @JsonProperty("static_groups") boolean staticGroups,
                       @JsonProperty("true_sequential") boolean trueSequential) {}

    /** Calibration text: first {@code samples} non-overlapping windows of {@code seqlen} tokens, or seeded random ones. */
    public record Calibration(@JsonProperty("data") String data,
                              @JsonProperty("samples") int samples,
                              @JsonProperty("seqlen") int seqlen,
                              @JsonProperty("random_windows") boolean randomWindows) {}

    public Recipe {
        targets = targets == null ? List.of() : List.copyOf(targets);
        ignore = ignore == null ? List.of() : List.copyOf(ignore);
    }

    /** Checks ranges and combinations; throws a one-line {@link BadInputException} naming {@code source}. */
    public Recipe validate(String source) {
        if (version != VERSION) throw new BadInputException(source, "recipe version " + version + " is not supported (expected " + VERSION + ")");
        if (!"rtn".equals(method) && !"gptq".equals(method)) {
            throw new BadInputException(source, "unknown method '" + method + "' (supported: rtn, gptq)");
        }
        if (scheme == null) throw new BadInputException(source, "recipe has no scheme");
        if (scheme.bits < 2 || scheme.bits > 8) throw new BadInputException(source, "bits must be 2..8, got " + scheme.bits);
        if (scheme.groupSize != -1 && scheme.groupSize < 1) {
            throw new BadInputException(source, "group size must be -1 (per channel) or positive, got " + scheme.groupSize);
        }
        if ("gptq".equals(method)) {
            if (calibration == null) throw new BadInputException(source, "gptq needs calibration data (--calib FILE)");
            if (gptq == null) throw new BadInputException(source, "gptq recipe has no gptq settings");
            if (gptq.staticGroups && !gptq.actOrder) {
                throw new BadInputException(source, "--static-groups only makes sense with --act-order");
            }
            if (!(gptq.dampPercent > 0 && gptq.dampPercent < 1)) { // NaN fails both comparisons
                throw new BadInputException(source, "damp_percent (--damp) must be in (0, 1), got " + gptq.dampPercent);
            }
            if (gptq.blockSize < 1) {
                throw new BadInputException(source, "block_size (--block-size) must be at least 1, got " + gptq.blockSize);
            }
        }
        if (calibration != null && (calibration.samples < 1 || calibration.seqlen < 2)) {
            throw new BadInputException(source, "calibration needs at least 1 sample of at least 2 tokens");
        }
        if (!"gptq".equals(format) && !"compressed-tensors".equals(format)) {
            throw new BadInputException(source, "unknown format '" + format + "' (supported: gptq, compressed-tensors)");
        }
        for (String p : targets) compile(source, p);
        for (String p : ignore) compile(source, p);
        return this;
    }

    private static Pattern compile(String source, String regex) {
        try {
            return Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new BadInputException(source, "invalid module pattern '" + regex + "': " + e.getDescription());
        }
    }

    /** Whether the module (e.g. {@code model.layers.0.self_attn.q_proj}) is quantized by this recipe. */
    public boolean selects(String module) {
        boolean in = targets.isEmpty() || targets.stream().anyMatch(p -> Pattern.compile(p).matcher(module).find());
        return in && ignore.stream().noneMatch(p -> Pattern.compile(p).matcher(module).find());
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(this) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Recipe read(Path file) {
        dev.lowbit.io.InputFiles.requireRegular(file, "recipe");
        try {
            return JSON.readValue(Files.readString(file), Recipe.class).validate(file.toString());
        } catch (IOException e) {
            throw new BadInputException(file, "cannot read recipe: " + e.getMessage().split("\n")[0]);
        }
    }
}
