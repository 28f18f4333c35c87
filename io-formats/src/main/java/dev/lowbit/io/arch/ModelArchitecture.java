package dev.lowbit.io.arch;

import dev.lowbit.io.BadInputException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One model family as data: which Hugging Face classes belong to it, its GGUF architecture name, its tensors
 * ({@link TensorRole}: names on both sides and shapes), which of them take llama.cpp's q/k row permutation, and the
 * balance mappings (which norm or Linear feeds which Linears) that AWQ, SmoothQuant and rotations use. The table is
 * {@link #ALL}; everything that knows tensor names (the GGUF exporter, the GGUF model view, the model checks, the
 * DJL runner) reads it from here.
 *
 * @param ggufName        {@code general.architecture} in GGUF
 * @param hfClasses       {@code architectures[0]} values of {@code config.json} that mean this family
 * @param roles           the tensors a model of this family has, per layer and global
 * @param permutesQk      llama.cpp's converter permutes q/k rows ({@code LLAMA_ROPE_TYPE_NORM}); false for NEOX rope
 * @param tiedByDefault   {@code tie_word_embeddings} when config.json does not say
 * @param balances        norm/Linear → the Linears it feeds, in layer order
 */
public record ModelArchitecture(String ggufName, List<String> hfClasses, Set<TensorRole> roles, boolean permutesQk,
                                boolean tiedByDefault, List<Balance> balances) {

    /** {@code from} feeds {@code to}: scaling {@code to}'s input channels can be folded into {@code from}'s output. */
    public record Balance(TensorRole from, List<TensorRole> to) {
        public Balance {
            to = List.copyOf(to);
        }
    }

    /** The rows treatment of a tensor on its way to GGUF. */
    public enum Rows {
        /** copy as is */
        AS_IS,
        /** rotary permutation with the query head count */
        PERMUTE_Q,
        /** rotary permutation with the key/value head count */
        PERMUTE_K
    }

    /**
     * A tensor name resolved against the table.
     *
     * @param layer  decoder layer, or −1 for a global tensor
     * @param suffix {@code weight} or {@code bias}
     */
    public record Slot(TensorRole role, int layer, String suffix) {
        public String hfName() {
            return (role.perLayer() ? "model.layers." + layer + "." : "") + role.hfModule() + "." + suffix;
        }

        public String ggufName() {
            return (role.perLayer() ? "blk." + layer + "." : "") + role.ggufModule() + "." + suffix;
        }

        public boolean isBias() {
            return suffix.equals("bias");
        }
    }

    /** The balance mappings of every Llama-style pre-norm block. */
    public static final List<Balance> LLAMA_BALANCES = List.of(
            new Balance(TensorRole.INPUT_NORM, List.of(TensorRole.Q, TensorRole.K, TensorRole.V)),
            new Balance(TensorRole.V, List.of(TensorRole.O)),
            new Balance(TensorRole.POST_ATTENTION_NORM, List.of(TensorRole.GATE, TensorRole.UP)),
            new Balance(TensorRole.UP, List.of(TensorRole.DOWN)));

    private static final Set<TensorRole> LLAMA_ROLES = EnumSet.complementOf(EnumSet.of(TensorRole.Q_NORM, TensorRole.K_NORM));

    /** Supported families. Mistral is the llama family in GGUF; Qwen2/3 use NEOX rope (no q/k permutation). */
    public static final List<ModelArchitecture> ALL = List.of(
            new ModelArchitecture("llama", List.of("LlamaForCausalLM", "MistralForCausalLM"), LLAMA_ROLES, true, false, LLAMA_BALANCES),
            new ModelArchitecture("qwen2", List.of("Qwen2ForCausalLM"), LLAMA_ROLES, false, false, LLAMA_BALANCES),
            new ModelArchitecture("qwen3", List.of("Qwen3ForCausalLM"), EnumSet.allOf(TensorRole.class), false, false, LLAMA_BALANCES));

    public ModelArchitecture {
        hfClasses = List.copyOf(hfClasses);
        roles = Set.copyOf(roles);
        balances = List.copyOf(balances);
    }

    /** The family of a {@code config.json} {@code architectures[0]} value. */
    public static ModelArchitecture forHfClass(String hfClass, String source) {
        for (ModelArchitecture a : ALL) if (a.hfClasses.contains(hfClass)) return a;
        throw new BadInputException(source, "unsupported architecture '" + hfClass + "' (supported: "
                + String.join(", ", ALL.stream().flatMap(a -> a.hfClasses.stream()).toList()) + ")");
    }

    /** The family of a GGUF {@code general.architecture}. */
    public static ModelArchitecture forGguf(String ggufArch, String source) {
        for (ModelArchitecture a : ALL) if (a.ggufName.equals(ggufArch)) return a;
        throw new BadInputException(source, "unsupported GGUF architecture '" + ggufArch + "' (supported: "
                + String.join(", ", ALL.stream().map(ModelArchitecture::ggufName).toList()) + ")");
    }

    /** The family for a GGUF name, or empty. */
    public static Optional<ModelArchitecture> byGgufName(String ggufArch) {
        return ALL.stream().filter(a -> a.ggufName.equals(ggufArch)).findFirst();
    }

    /** The Hugging Face class written into a config.json synthesised for this family. */
    public String primaryHfClass() {
        return hfClasses.getFirst();
    }

    /** The Linears of a decoder layer, in the order a layer runs them. */
    public List<TensorRole> linears() {
        return roles.stream().filter(r -> r.kind() == TensorRole.Kind.LINEAR).sorted().toList();
    }

    /** How a tensor's rows are treated on the way to GGUF. */
    public Rows rows(TensorRole role) {
        if (!permutesQk) return Rows.AS_IS;
        return role == TensorRole.Q ? Rows.PERMUTE_Q : role == TensorRole.K ? Rows.PERMUTE_K : Rows.AS_IS;
    }

    private static final Pattern HF_LAYER = Pattern.compile("model\\.layers\\.(\\d{1,9})\\.(.+)\\.(weight|bias)");
    private static final Pattern GGUF_LAYER = Pattern.compile("blk\\.(\\d{1,9})\\.(.+)\\.(weight|bias)");
    private static final Pattern GLOBAL = Pattern.compile("(.+)\\.(weight|bias)");

    /** Resolves a Hugging Face tensor name (any layer index), or empty when this family has no such tensor. */
    public Optional<Slot> parseHf(String name) {
        return parse(name, HF_LAYER, true);
    }

    /** Resolves a GGUF tensor name, or empty. */
    public Optional<Slot> parseGguf(String name) {
        return parse(name, GGUF_LAYER, false);
    }

    private Optional<Slot> parse(String name, Pattern layerPattern, boolean hf) {
        Matcher m = layerPattern.matcher(name);
        if (m.matches()) {
            for (TensorRole r : roles) {
                if (r.perLayer() && (hf ? r.hfModule() : r.ggufModule()).equals(m.group(2))
                        && (m.group(3).equals("weight") || r.mayHaveBias())) {
                    return Optional.of(new Slot(r, Integer.parseInt(m.group(1)), m.group(3)));
                }
            }
            return Optional.empty();
        }
        m = GLOBAL.matcher(name);
        if (!m.matches() || !m.group(2).equals("weight")) return Optional.empty();
        for (TensorRole r : roles) {
            if (!r.perLayer() && (hf ? r.hfModule() : r.ggufModule()).equals(m.group(1))) return Optional.of(new Slot(r, -1, "weight"));
        }
        return Optional.empty();
    }

    /**
     * One tensor the architecture expects.
     *
     * @param shape    PyTorch shape
     * @param required absent is an error (biases are optional; lm_head is optional in a tied model)
     */
    public record Expected(Slot slot, long[] shape, boolean required) {
        public Expected {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }
    }

    /** Every tensor a model of these dimensions may hold, globals first, then layer by layer. */
    public List<Expected> expected(ModelDims d) {
        List<Expected> out = new ArrayList<>();
        for (TensorRole r : TensorRole.values()) {
            if (!roles.contains(r) || r.perLayer()) continue;
            boolean required = r != TensorRole.LM_HEAD || !d.tied();
            out.add(new Expected(new Slot(r, -1, "weight"), r.weightShape(d), required));
        }
        for (int layer = 0; layer < d.layers(); layer++) {
            for (TensorRole r : TensorRole.values()) {
                if (!roles.contains(r) || !r.perLayer()) continue;
                long[] shape = r.weightShape(d);
                out.add(new Expected(new Slot(r, layer, "weight"), shape, true));
                if (r.mayHaveBias()) out.add(new Expected(new Slot(r, layer, "bias"), new long[] {shape[0]}, false));
            }
        }
        return out;
    }
}
