package dev.lowbit.pipeline.recipe;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A per-module scheme: modules (or GGUF tensors) whose name the regex is found in take this scheme instead of the
 * quantizer step's. For integer targets some of {@code bits}, {@code group_size}, {@code symmetric} (unset ones keep
 * the step's; the checkpoint's quantization_config lists the modules by name); for {@code gguf} a ggml {@code type}
 * (as llama-quantize's {@code --tensor-type REGEX=TYPE}). The first matching override wins.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SchemeOverride(@JsonProperty("pattern") String pattern,
                             @JsonProperty("bits") Integer bits,
                             @JsonProperty("group_size") Integer groupSize,
                             @JsonProperty("symmetric") Boolean symmetric,
                             @JsonProperty("type") String type) {
    /** A GGUF override, as {@code --tensor-type REGEX=TYPE} writes it. */
    public static SchemeOverride ofType(String pattern, String type) {
        return new SchemeOverride(pattern, null, null, null, type);
    }

    /** {@code REGEX=TYPE}, the form llama-quantize's {@code --tensor-type} takes. */
    public String asTensorType() {
        return pattern + "=" + type;
    }
}
