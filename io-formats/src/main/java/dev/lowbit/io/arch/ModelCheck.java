package dev.lowbit.io.arch;

import dev.lowbit.io.BadInputException;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Checks a checkpoint as a model, not just as a file: every tensor the {@link ModelArchitecture} expects for the stated
 * {@link ModelDims} is present with exactly the shape the dimensions imply and a floating-point type, and every
 * tensor present is one the architecture expects, once. A config that says 4 layers over a 6-layer checkpoint, a
 * wrong hidden size, an I32 "weight", a 3-D Linear or a stray tensor each fail here with one line naming the tensor
 * and the cause, before any command reads data.
 */
public final class ModelCheck {
    private ModelCheck() {}

    /** Which names the tensors carry. */
    public enum Naming { HUGGING_FACE, GGUF }

    /**
     * A tensor as the file declares it.
     *
     * @param shape    PyTorch order ({@code [out, in]})
     * @param dtype    the type's name, for messages
     * @param floating whether the type holds real numbers (float or a quantized block type); integers are refused
     */
    public record TensorFacts(String name, long[] shape, String dtype, boolean floating) {
        public TensorFacts {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }
    }

    /**
     * Refuses a checkpoint that does not match its architecture and dimensions.
     *
     * @param source     what to blame (the model directory or file)
     * @param configName where the dimensions came from, for messages ({@code config.json}, {@code GGUF metadata})
     */
    public static void require(ModelArchitecture arch, ModelDims dims, List<TensorFacts> tensors, Naming naming,
                               String source, String configName) {
        Map<String, ModelArchitecture.Expected> expected = new LinkedHashMap<>();
        for (ModelArchitecture.Expected e : arch.expected(dims)) expected.put(name(e.slot(), naming), e);
        Set<String> seen = new HashSet<>();
        Set<Integer> layersSeen = new HashSet<>();
        for (TensorFacts t : tensors) {
            if (!seen.add(t.name())) throw new BadInputException(source, "tensor '" + t.name() + "' appears more than once");
            if (ignored(t, naming, dims)) continue;
            ModelArchitecture.Expected e = expected.get(t.name());
            if (e == null) throw unexpected(arch, dims, t, naming, source, configName);
            if (e.slot().layer() >= 0) layersSeen.add(e.slot().layer());
            if (!Arrays.equals(e.shape(), t.shape())) {
                throw new BadInputException(source, "tensor '" + t.name() + "' has shape " + Arrays.toString(t.shape())
                        + ", but " + configName + " implies " + Arrays.toString(e.shape()) + " (" + describe(e.slot().role(), dims) + ")");
            }
            if (!t.floating()) {
                throw new BadInputException(source, "tensor '" + t.name() + "' is " + t.dtype()
                        + ", but a " + (e.slot().isBias() ? "bias" : "weight") + " must hold floating-point values");
            }
        }
        for (Map.Entry<String, ModelArchitecture.Expected> en : expected.entrySet()) {
            ModelArchitecture.Expected e = en.getValue();
            if (!e.required() || seen.contains(en.getKey())) continue;
            int layer = e.slot().layer();
            if (layer >= 0 && !layersSeen.contains(layer)) {
                throw new BadInputException(source, configName + " says " + dims.layers() + " layers (num_hidden_layers), but the "
                        + "checkpoint has no tensors for layer " + layer + " (it holds " + layersSeen.size() + ")");
            }
            throw new BadInputException(source, "missing tensor '" + en.getKey() + "' (a " + arch.ggufName() + " model"
                    + (e.slot().role() == TensorRole.LM_HEAD ? " whose embeddings are not tied" : "") + " needs it)");
        }
    }

    private static String name(ModelArchitecture.Slot s, Naming n) {
        return n == Naming.HUGGING_FACE ? s.hfName() : s.ggufName();
    }

    /** Entries converters drop or add: cached rotary tables (HF), llama.cpp's {@code rope_freqs.weight} (GGUF). */
    private static boolean ignored(TensorFacts t, Naming naming, ModelDims dims) {
        if (naming == Naming.HUGGING_FACE) return t.name().matches(".*\\.rotary_emb\\.[^.]+");
        return t.name().equals("rope_freqs.weight") && t.floating()
                && Arrays.equals(t.shape(), new long[] {dims.headDim() / 2});
    }

    private static BadInputException unexpected(ModelArchitecture arch, ModelDims dims, TensorFacts t, Naming naming,
                                                String source, String configName) {
        Optional<ModelArchitecture.Slot> slot = naming == Naming.HUGGING_FACE ? arch.parseHf(t.name()) : arch.parseGguf(t.name());
        if (slot.isPresent() && slot.get().layer() >= dims.layers()) {
            return new BadInputException(source, configName + " says " + dims.layers() + " layers (num_hidden_layers), but the "
                    + "checkpoint holds '" + t.name() + "' of layer " + slot.get().layer());
        }
        return new BadInputException(source, "unexpected tensor '" + t.name() + "' (not part of a " + arch.ggufName() + " model)");
    }

    private static String describe(TensorRole r, ModelDims d) {
        return switch (r) {
            case EMBED, LM_HEAD -> "vocab_size " + d.vocab() + ", hidden_size " + d.hidden();
            case FINAL_NORM, INPUT_NORM, POST_ATTENTION_NORM -> "hidden_size " + d.hidden();
            case Q_NORM, K_NORM -> "head_dim " + d.headDim();
            case Q, O -> "hidden_size " + d.hidden() + ", num_attention_heads " + d.heads() + " × head_dim " + d.headDim();
            case K, V -> "hidden_size " + d.hidden() + ", num_key_value_heads " + d.kvHeads() + " × head_dim " + d.headDim();
            case GATE, UP, DOWN -> "hidden_size " + d.hidden() + ", intermediate_size " + d.intermediate();
        };
    }
}
