package dev.lowbit.io.arch;

/**
 * What a tensor of a Llama-family decoder is, with its Hugging Face and GGUF names and the rule that gives its
 * PyTorch shape from the model's dimensions. Per-layer roles are named relative to the layer
 * ({@code model.layers.N.} / {@code blk.N.}); global roles are full names without {@code .weight}.
 *
 * <p>Shapes ({@code [out, in]} for Linears), with D = hidden, F = intermediate, H/KV query/key-value heads, d = head_dim,
 * V = vocabulary: embedding and lm_head {@code [V, D]}; norms {@code [D]}; q {@code [H·d, D]}; k, v {@code [KV·d, D]};
 * o {@code [D, H·d]}; gate, up {@code [F, D]}; down {@code [D, F]}; Qwen3's per-head q/k norms {@code [d]}.
 * A Linear's bias, when the checkpoint has one, is {@code [out]}.
 */
public enum TensorRole {
    EMBED(false, Kind.EMBEDDING, "model.embed_tokens", "token_embd"),
    FINAL_NORM(false, Kind.NORM, "model.norm", "output_norm"),
    LM_HEAD(false, Kind.HEAD, "lm_head", "output"),
    INPUT_NORM(true, Kind.NORM, "input_layernorm", "attn_norm"),
    Q(true, Kind.LINEAR, "self_attn.q_proj", "attn_q"),
    K(true, Kind.LINEAR, "self_attn.k_proj", "attn_k"),
    V(true, Kind.LINEAR, "self_attn.v_proj", "attn_v"),
    O(true, Kind.LINEAR, "self_attn.o_proj", "attn_output"),
    Q_NORM(true, Kind.NORM, "self_attn.q_norm", "attn_q_norm"),
    K_NORM(true, Kind.NORM, "self_attn.k_norm", "attn_k_norm"),
    POST_ATTENTION_NORM(true, Kind.NORM, "post_attention_layernorm", "ffn_norm"),
    GATE(true, Kind.LINEAR, "mlp.gate_proj", "ffn_gate"),
    UP(true, Kind.LINEAR, "mlp.up_proj", "ffn_up"),
    DOWN(true, Kind.LINEAR, "mlp.down_proj", "ffn_down");

    /** What kind of tensor a role holds. */
    public enum Kind {
        /** token embedding table */
        EMBEDDING,
        /** RMSNorm weight */
        NORM,
        /** a Linear inside a decoder layer (may have a bias) */
        LINEAR,
        /** the output projection to the vocabulary */
        HEAD
    }

    private final boolean perLayer;
    private final Kind kind;
    private final String hf;
    private final String gguf;

    TensorRole(boolean perLayer, Kind kind, String hf, String gguf) {
        this.perLayer = perLayer;
        this.kind = kind;
        this.hf = hf;
        this.gguf = gguf;
    }

    public boolean perLayer() {
        return perLayer;
    }

    public Kind kind() {
        return kind;
    }

    /** Hugging Face module name (relative to {@code model.layers.N.} for per-layer roles). */
    public String hfModule() {
        return hf;
    }

    /** GGUF module name (relative to {@code blk.N.} for per-layer roles). */
    public String ggufModule() {
        return gguf;
    }

    /** Whether the checkpoint may hold a {@code .bias} next to the {@code .weight}. */
    public boolean mayHaveBias() {
        return kind == Kind.LINEAR;
    }

    /** The PyTorch shape of the {@code .weight}. */
    public long[] weightShape(ModelDims d) {
        long q = (long) d.heads() * d.headDim();
        long kv = (long) d.kvHeads() * d.headDim();
        return switch (this) {
            case EMBED, LM_HEAD -> new long[] {d.vocab(), d.hidden()};
            case FINAL_NORM, INPUT_NORM, POST_ATTENTION_NORM -> new long[] {d.hidden()};
            case Q_NORM, K_NORM -> new long[] {d.headDim()};
            case Q -> new long[] {q, d.hidden()};
            case K, V -> new long[] {kv, d.hidden()};
            case O -> new long[] {d.hidden(), q};
            case GATE, UP -> new long[] {d.intermediate(), d.hidden()};
            case DOWN -> new long[] {d.hidden(), d.intermediate()};
        };
    }
}
