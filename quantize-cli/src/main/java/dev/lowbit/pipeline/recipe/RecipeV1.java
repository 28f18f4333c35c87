package dev.lowbit.pipeline.recipe;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A version-1 recipe ({@code recipe.json} written before recipes had steps): one method, one scheme, one output
 * format. Read only to be {@linkplain #upgrade() upgraded} to a version-2 {@link Recipe} that replays to the same
 * bytes.
 */
record RecipeV1(
        @JsonProperty("version") int version,
        @JsonProperty("method") String method,
        @JsonProperty("scheme") Scheme scheme,
        @JsonProperty("gptq") Gptq gptq,
        @JsonProperty("targets") List<String> targets,
        @JsonProperty("ignore") List<String> ignore,
        @JsonProperty("calibration") Recipe.Calibration calibration,
        @JsonProperty("format") String format,
        @JsonProperty("seed") long seed) {

    record Scheme(@JsonProperty("bits") int bits,
                  @JsonProperty("group_size") int groupSize,
                  @JsonProperty("symmetric") boolean symmetric,
                  @JsonProperty("mse_clip") boolean mseClip) {}

    record Gptq(@JsonProperty("damp_percent") double dampPercent,
                @JsonProperty("block_size") int blockSize,
                @JsonProperty("desc_act") boolean actOrder,
                @JsonProperty("static_groups") boolean staticGroups,
                @JsonProperty("true_sequential") boolean trueSequential) {}

    /**
     * The same run as a one-step version-2 recipe. Two things version 1 recorded but never used are dropped, so the
     * replay writes what the original run wrote: {@code mse_clip} under GPTQ (the version-1 pipeline passed no clip
     * search to GPTQ) and calibration data under RTN (data-free).
     */
    Recipe upgrade() {
        ObjectNode p = JsonNodeFactory.instance.objectNode();
        if (scheme != null) {
            p.put("bits", scheme.bits());
            p.put("group_size", scheme.groupSize());
            p.put("symmetric", scheme.symmetric());
            p.put("mse_clip", scheme.mseClip() && !"gptq".equals(method));
        }
        if ("gptq".equals(method) && gptq != null) {
            p.put("damp_percent", gptq.dampPercent());
            p.put("block_size", gptq.blockSize());
            p.put("desc_act", gptq.actOrder());
            p.put("static_groups", gptq.staticGroups());
            p.put("true_sequential", gptq.trueSequential());
        }
        Recipe.Calibration cal = "rtn".equals(method) ? null : calibration;
        return new Recipe(List.of(new Step(method, targets, ignore, p)), List.of(), cal, Output.of(format), seed);
    }
}
