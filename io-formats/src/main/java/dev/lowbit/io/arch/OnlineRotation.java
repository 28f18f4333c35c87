package dev.lowbit.io.arch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.hf.HfConfig;

/**
 * Online Hadamard rotations a rotated checkpoint needs at run time, recorded in its {@code config.json} under
 * {@value #KEY}: {@code {"r3": true, "r4": true, "matrix": "lowbit-hadamard"}}.
 * <ul>
 *   <li>r4: the input of every {@code down_proj} is multiplied by H_F (F = intermediate_size) before the Linear,
 *       whose weight already carries H_F (W ← W·H_F), so the layer computes the same function while down_proj's input
 *       activations are spread over all channels (QuaRot's R4, for activation quantization).</li>
 *   <li>r3: queries and keys are multiplied by H_d (d = head_dim) after RoPE; it cancels in q·kᵀ and serves a
 *       quantized KV cache.</li>
 * </ul>
 * H_n is the orthonormal Hadamard of lowbit's {@code kernels.hadamard.Hadamard.of(n)}: (H_k ⊗ Sylvester H_{n/k})/√n
 * with H_k the Paley matrix of the smallest fitting order (k = 1 for powers of two). Only runtimes that apply these
 * (lowbit's) may load such a checkpoint; every other writer refuses it ({@link #refuse}).
 */
public record OnlineRotation(boolean r3, boolean r4) {
    /** The config.json key. */
    public static final String KEY = "lowbit_online_rotation";
    public static final OnlineRotation NONE = new OnlineRotation(false, false);

    public boolean any() {
        return r3 || r4;
    }

    /** What a config.json states; {@link #NONE} without the key. */
    public static OnlineRotation of(HfConfig c, String source) {
        JsonNode n = c.raw().get(KEY);
        if (n == null || n.isNull()) return NONE;
        if (!n.isObject() || !"lowbit-hadamard".equals(n.path("matrix").asText())
                || !n.path("r3").isBoolean() || !n.path("r4").isBoolean()) {
            throw new BadInputException(source, KEY + " must be {\"r3\": bool, \"r4\": bool, \"matrix\": \"lowbit-hadamard\"}");
        }
        return new OnlineRotation(n.get("r3").asBoolean(), n.get("r4").asBoolean());
    }

    /** Writes this record into a config document (removes the key for {@link #NONE}). */
    public void writeTo(ObjectNode config) {
        if (!any()) {
            config.remove(KEY);
            return;
        }
        config.putObject(KEY).put("r3", r3).put("r4", r4).put("matrix", "lowbit-hadamard");
    }

    /**
     * Refuses a model with online rotations for a writer whose runtimes cannot apply them: one line naming the
     * model and the writer.
     */
    public static void refuse(HfConfig c, String source, String writer) {
        if (of(c, source).any()) {
            throw new BadInputException(source, "the model needs online Hadamard rotations at run time (" + KEY
                    + "), which " + writer + " cannot express; only lowbit's runtime applies them (quantize the checkpoint "
                    + "rotated without --rotate-online instead)");
        }
    }
}
