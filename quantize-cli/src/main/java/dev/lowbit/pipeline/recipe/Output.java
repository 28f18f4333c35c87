package dev.lowbit.pipeline.recipe;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The recipe's output target.
 *
 * @param format          {@code gptq} (GPTQ v1 safetensors), {@code awq} (AutoAWQ gemm), {@code compressed-tensors} ({@code pack-quantized}) or
 *                        {@code gguf}
 * @param type            gguf: the llama.cpp mix ({@code Q4_K_M} …); {@code null} otherwise
 * @param pure            gguf: no mix rules, every quantizable tensor gets the mix's default type
 * @param imatrix         gguf: importance matrix file (llama.cpp GGUF or {@code .dat}), or {@code null}
 * @param allowRequantize gguf: allow re-quantizing tensors that are already quantized
 * @param inputActivations the activation quantization the written checkpoint declares for its Linear inputs
 *                        (compressed-tensors {@code input_activations}; a name of {@code ActivationScheme.named}, e.g.
 *                        {@code fp8-token}: W8A8-FP8), applied by every runtime that loads it; {@code null}: weight-only
 */
@JsonInclude(JsonInclude.Include.NON_DEFAULT)
public record Output(@JsonProperty("format") String format,
                     @JsonProperty("type") String type,
                     @JsonProperty("pure") boolean pure,
                     @JsonProperty("imatrix") String imatrix,
                     @JsonProperty("allow_requantize") boolean allowRequantize,
                     @JsonProperty("input_activations") String inputActivations) {
    public static final String GPTQ = "gptq";
    public static final String COMPRESSED_TENSORS = "compressed-tensors";
    public static final String GGUF = "gguf";
    /** A plain (fp) Hugging Face checkpoint: what a recipe of transforms only writes. */
    public static final String SAFETENSORS = "safetensors";
    /** AutoAWQ {@code gemm} safetensors (4-bit, groups in order, zero points). */
    public static final String AWQ = "awq";
    /** lowbit's trit-plane safetensors (ternary planes with f16 scales per group; docs/FORMATS-trit.md). */
    public static final String TRIT_PLANES = "trit-planes";
    /**
     * The quantized weights decoded to f32, for lowbit's runtime only ({@code io.hf.LowbitDequantized}): the values a
     * GPTQ v1 checkpoint of the same run holds, for models no packed format can carry (online rotations).
     */
    public static final String DEQUANTIZED = "dequantized";

    /** A weight-only target. */
    public Output(String format, String type, boolean pure, String imatrix, boolean allowRequantize) {
        this(format, type, pure, imatrix, allowRequantize, null);
    }

    /** A safetensors target ({@code gptq} or {@code compressed-tensors}). */
    public static Output of(String format) {
        return new Output(format, null, false, null, false);
    }

    /** This target with {@code input_activations} set. */
    public Output withInputActivations(String name) {
        return new Output(format, type, pure, imatrix, allowRequantize, name);
    }

    @JsonIgnore
    public boolean isGguf() {
        return GGUF.equals(format);
    }
}
