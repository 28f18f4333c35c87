package dev.lowbit.io.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import java.util.ArrayList;
import java.util.List;

/**
 * lowbit's runtime-only checkpoint of quantized weights decoded to f32 ({@code quantize --format dequantized}): what
 * lets lowbit's runtime evaluate GPTQ / RTN weights of a model no packed format can carry, such as one with online
 * Hadamard rotations ({@link dev.lowbit.io.arch.OnlineRotation}). Its {@code config.json} is made so that no other
 * tool mistakes it for a plain checkpoint of the same function:
 * <ul>
 *   <li>{@code architectures} is {@value #ARCHITECTURE}, a class no runtime or converter knows (llama.cpp's
 *       {@code convert_hf_to_gguf.py}, vLLM and transformers' auto classes dispatch on it and refuse it); the real
 *       family is {@code quantization_config.architectures}, which {@link HfConfig} reads in its place;</li>
 *   <li>{@code quantization_config.quant_method} is {@value #QUANT_METHOD}, which transformers and vLLM refuse as an
 *       unknown quantization type; the same block records {@code runtime: "lowbit"}, how the weights were quantized
 *       ({@code weights}, the GPTQ fields the same run would write) and a note saying why.</li>
 * </ul>
 * Within lowbit it is an evaluation target only: quantizing or converting it again is refused ({@link #refuse}).
 */
public final class LowbitDequantized {
    public static final String QUANT_METHOD = "lowbit-dequantized";
    public static final String ARCHITECTURE = "LowbitRuntimeOnlyForCausalLM";

    private LowbitDequantized() {}

    /** Whether a config document is such a checkpoint's. */
    public static boolean is(JsonNode config) {
        return QUANT_METHOD.equals(config.path("quantization_config").path("quant_method").asText(""));
    }

    /**
     * Marks {@code config} (a copy of the source's) as this checkpoint's: moves {@code architectures} into the
     * quantization_config and puts {@value #ARCHITECTURE} in its place.
     *
     * @param weights how the weights were quantized (e.g. the GPTQ quantization_config of the same run)
     */
    public static void mark(ObjectNode config, ObjectNode weights) {
        ObjectNode qc = config.putObject("quantization_config");
        qc.put("quant_method", QUANT_METHOD);
        qc.put("runtime", "lowbit");
        qc.set("architectures", config.path("architectures").deepCopy());
        qc.set("weights", weights);
        qc.put("note", "quantized weights decoded to f32 for lowbit's runtime only; it may need online rotations "
                + "(lowbit_online_rotation) that no other runtime applies; not a plain checkpoint");
        config.putArray("architectures").add(ARCHITECTURE);
    }

    /** The architectures {@link HfConfig} takes from a config document: the recorded ones for this checkpoint. */
    static List<String> architectures(JsonNode root, List<String> declared, String source) {
        if (!is(root)) return declared;
        JsonNode a = root.path("quantization_config").path("architectures");
        if (!a.isArray() || a.isEmpty() || !declared.equals(List.of(ARCHITECTURE))) {
            throw new BadInputException(source, "a " + QUANT_METHOD + " checkpoint must have architectures [" + ARCHITECTURE
                    + "] and the model's own under quantization_config.architectures");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode n : a) {
            if (!n.isTextual()) throw new BadInputException(source, "quantization_config.architectures must hold strings");
            out.add(n.asText());
        }
        return List.copyOf(out);
    }

    /** Refuses such a checkpoint as the input of {@code what} (it is already quantized; only lowbit evaluates it). */
    public static void refuse(JsonNode config, String source, String what) {
        if (is(config)) {
            throw new BadInputException(source, "a " + QUANT_METHOD + " checkpoint (quantized weights decoded for lowbit's "
                    + "runtime) is for lowbit evaluate only; " + what + " its source model instead");
        }
    }
}
