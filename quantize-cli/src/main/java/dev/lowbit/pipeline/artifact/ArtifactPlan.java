package dev.lowbit.pipeline.artifact;

import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.steps.QuantizerStep;
import java.util.List;

/**
 * Everything an output will hold, decided before any work: the model, the checked recipe, its quantizer, and one entry
 * per tensor the pipeline will {@link ArtifactWriter#put}, with the grid each quantized tensor goes onto.
 * {@link ArtifactWriter#validate} checks it against the target's constraints.
 *
 * @param source    the model being quantized (names are Hugging Face names, shapes PyTorch shapes)
 * @param recipe    the checked recipe (every step parameter explicit)
 * @param quantizer the recipe's quantizer step, or {@code null} for a recipe of transforms only ({@code --method none})
 * @param entries   every tensor of the output, globals first, then layer by layer
 */
public record ArtifactPlan(ModelSource source, Recipe recipe, QuantizerStep quantizer, List<Entry> entries) {
    public ArtifactPlan {
        entries = List.copyOf(entries);
    }

    /**
     * One tensor of the output.
     *
     * @param name   Hugging Face tensor name ({@code model.layers.0.self_attn.q_proj.weight})
     * @param shape  PyTorch shape ({@code [out, in]} for a Linear)
     * @param layer  decoder layer, −1 for a global tensor
     * @param role   what the tensor is in the architecture table, or {@code null} for one outside it (GGUF's
     *               {@code rope_freqs})
     * @param scheme the integer (or other {@link QuantScheme}) grid a safetensors target packs it with; {@code null} when
     *               the tensor stays floating point or the target is GGUF
     * @param ggml   the ggml type a GGUF target stores it in (every GGUF tensor has one); {@code null} otherwise
     */
    public record Entry(String name, long[] shape, int layer, TensorRole role, QuantScheme scheme, GgmlType ggml) {
        public Entry {
            shape = shape.clone();
        }

        /** An entry without its architecture role (a safetensors target does not need it). */
        public Entry(String name, long[] shape, int layer, QuantScheme scheme, GgmlType ggml) {
            this(name, shape, layer, null, scheme, ggml);
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /**
         * Whether the quantizer step produces this tensor: a Linear weight on a grid (a safetensors scheme, or a
         * quantized ggml type; with the {@code rtn} step a GGUF writer rounds it with the type's own search).
         */
        public boolean quantized() {
            return scheme != null || (ggml != null && ggml.isQuantized() && role != null
                    && role.kind() == TensorRole.Kind.LINEAR && name.endsWith(".weight"));
        }

        /** The module name: the tensor name without {@code .weight}. */
        public String module() {
            return name.endsWith(".weight") ? name.substring(0, name.length() - ".weight".length()) : name;
        }
    }

    /** The entries the quantizer step quantizes, in order. */
    public List<Entry> quantized() {
        return entries.stream().filter(Entry::quantized).toList();
    }
}
