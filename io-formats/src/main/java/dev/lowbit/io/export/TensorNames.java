package dev.lowbit.io.export;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hugging Face tensor names → GGUF tensor names for the architectures lowbit exports, as a table. GGUF dims are the
 * reversed PyTorch shape ({@code [out, in]} → {@code [in, out]}).
 */
public final class TensorNames {

    /** What the exporter must do to a tensor's rows on the way out. */
    public enum Rows {
        /** Copy as is. */
        AS_IS,
        /** {@link RotaryPermutation} with the query head count. */
        PERMUTE_Q,
        /** {@link RotaryPermutation} with the key/value head count. */
        PERMUTE_K
    }

    /** A mapped tensor: GGUF name, GGUF dims and the row treatment. */
    public record Mapping(String hfName, String ggufName, long[] ggufDims, Rows rows) {
        public Mapping {
            ggufDims = ggufDims.clone();
        }

        @Override
        public long[] ggufDims() {
            return ggufDims.clone();
        }
    }

    private record Rule(Pattern hf, String gguf, Rows rows) {
        static Rule of(String hfRegex, String gguf, Rows rows) {
            return new Rule(Pattern.compile(hfRegex), gguf, rows);
        }
    }

    private static final String L = "model\\.layers\\.(\\d+)\\.";

    /** Shared by llama, qwen2 and qwen3; {@code {N}} is the layer number. Biases follow their weights. */
    private static final List<Rule> COMMON = List.of(
            Rule.of("model\\.embed_tokens\\.weight", "token_embd.weight", Rows.AS_IS),
            Rule.of("model\\.norm\\.weight", "output_norm.weight", Rows.AS_IS),
            Rule.of("lm_head\\.weight", "output.weight", Rows.AS_IS),
            Rule.of(L + "self_attn\\.q_proj\\.(weight|bias)", "blk.{N}.attn_q.{P}", Rows.PERMUTE_Q),
            Rule.of(L + "self_attn\\.k_proj\\.(weight|bias)", "blk.{N}.attn_k.{P}", Rows.PERMUTE_K),
            Rule.of(L + "self_attn\\.v_proj\\.(weight|bias)", "blk.{N}.attn_v.{P}", Rows.AS_IS),
            Rule.of(L + "self_attn\\.o_proj\\.(weight|bias)", "blk.{N}.attn_output.{P}", Rows.AS_IS),
            Rule.of(L + "self_attn\\.q_norm\\.(weight)", "blk.{N}.attn_q_norm.{P}", Rows.AS_IS),
            Rule.of(L + "self_attn\\.k_norm\\.(weight)", "blk.{N}.attn_k_norm.{P}", Rows.AS_IS),
            Rule.of(L + "mlp\\.gate_proj\\.(weight|bias)", "blk.{N}.ffn_gate.{P}", Rows.AS_IS),
            Rule.of(L + "mlp\\.up_proj\\.(weight|bias)", "blk.{N}.ffn_up.{P}", Rows.AS_IS),
            Rule.of(L + "mlp\\.down_proj\\.(weight|bias)", "blk.{N}.ffn_down.{P}", Rows.AS_IS),
            Rule.of(L + "input_layernorm\\.(weight)", "blk.{N}.attn_norm.{P}", Rows.AS_IS),
            Rule.of(L + "post_attention_layernorm\\.(weight)", "blk.{N}.ffn_norm.{P}", Rows.AS_IS));

    /** Checkpoint entries the converter drops: cached rotary tables. */
    private static final Pattern SKIPPED = Pattern.compile(".*\\.rotary_emb\\.inv_freq|.*\\.rotary_emb\\..*");

    private final String arch;

    private TensorNames(String arch) {
        this.arch = arch;
    }

    /** The table for a GGUF architecture ({@code llama}, {@code qwen2}, {@code qwen3}). */
    public static TensorNames forArchitecture(String ggufArch) {
        return switch (ggufArch) {
            case "llama", "qwen2", "qwen3" -> new TensorNames(ggufArch);
            default -> throw new IllegalArgumentException("no tensor name table for architecture '" + ggufArch + "'");
        };
    }

    /** Whether the converter drops this checkpoint entry. */
    public boolean skipped(String hfName) {
        return SKIPPED.matcher(hfName).matches();
    }

    /**
     * Maps one tensor. q/k permutation is requested only for {@code llama} (qwen2/qwen3 use NEOX rope).
     *
     * @param torchShape the PyTorch shape ({@code [out, in]} for a Linear)
     * @return the mapping, or {@code null} when the name is not in the table
     */
    public Mapping map(String hfName, long[] torchShape) {
        for (Rule r : COMMON) {
            Matcher m = r.hf().matcher(hfName);
            if (!m.matches()) continue;
            String name = r.gguf();
            if (m.groupCount() >= 1 && name.contains("{N}")) name = name.replace("{N}", m.group(1));
            if (m.groupCount() >= 2) name = name.replace("{P}", m.group(2));
            Rows rows = arch.equals("llama") ? r.rows() : Rows.AS_IS;
            return new Mapping(hfName, name, reversed(torchShape), rows);
        }
        return null;
    }

    /**
     * Maps every tensor of a checkpoint, dropping the entries the converter drops.
     *
     * @throws IllegalArgumentException naming every tensor the table does not know
     */
    public List<Mapping> mapAll(List<String> hfNames, java.util.function.Function<String, long[]> shapeOf) {
        List<Mapping> out = new ArrayList<>();
        List<String> unknown = new ArrayList<>();
        for (String n : hfNames) {
            if (skipped(n)) continue;
            Mapping m = map(n, shapeOf.apply(n));
            if (m == null) unknown.add(n);
            else out.add(m);
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("no GGUF name for " + unknown.size() + " tensor(s) of a " + arch + " model: " + unknown);
        }
        return out;
    }

    /** GGUF dims: the PyTorch shape reversed. */
    public static long[] reversed(long[] torchShape) {
        long[] d = new long[torchShape.length];
        for (int i = 0; i < d.length; i++) d[i] = torchShape[torchShape.length - 1 - i];
        return d;
    }

    @Override
    public String toString() {
        return "TensorNames[" + arch + ", " + Arrays.toString(COMMON.stream().map(Rule::gguf).toArray()) + "]";
    }
}
