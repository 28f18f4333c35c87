package dev.lowbit.calib.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import dev.lowbit.calib.model.ForwardProfile.Op;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.OnlineRotation;
import dev.lowbit.io.model.ModelSource;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.HashMap;
import java.util.Map;

/**
 * A Llama-family decoder run block by block on DJL (PyTorch engine, CPU, f32), weights read through a
 * {@link ModelSource} (a Hugging Face directory or a GGUF file, memory-mapped) and decoded to f32 in Java (bf16/f16,
 * or ggml blocks), one layer at a time.
 *
 * <p>Data flow for windows of token ids {@code [B, T]}:
 * <pre>
 *   h₀ = {@link #embed}(ids)                                   [B, T, D]
 *   hᵢ₊₁ = {@link #runLayer}(i, hᵢ, hook)                        for i = 0..L−1
 *   logits = {@link #finalLogits}(h_L) = RMSNorm(h_L) · W_lmᵀ    [B·T, V]
 * </pre>
 * and one layer is the pre-norm block
 * <pre>
 *   a = RMSNorm(x)·γ₁;  q,k,v = a·W_{q,k,v}ᵀ (+b);  [q,k ← RMSNorm_head(q,k) for Qwen3];  q,k ← RoPE(q,k)
 *   x = x + softmax(q·kᵀ/√d + causal mask)·v · W_oᵀ            (each group of H/KV query heads shares one k,v head)
 *   m = RMSNorm(x)·γ₂;  x = x + (silu(m·W_gateᵀ) ⊙ m·W_upᵀ)·W_downᵀ
 * </pre>
 * with RMSNorm(x) = x / √(mean(x²) + ε). Layer weights are created once and cached until {@link #releaseLayer};
 * {@link #setLinearWeight} substitutes a Linear's weight (e.g. its dequantized version) for later runs.
 *
 * <p>Memory: when every layer's f32 weights together exceed {@link #residentLayerBytes()} (1 GiB; a 1B-shaped model
 * has 3.3 GB of them, a 7B one 26 GB), the runner streams: it keeps only the layer being run, and loading layer i
 * frees the others; after a layer (or the head) is decoded the model's mapped pages are dropped from the resident
 * set ({@link ModelSource#releasePages}). A small model keeps every layer, so repeated runs decode each layer once.
 *
 * <p>Ownership: arrays returned by {@link #embed}, {@link #runLayer} and {@link #finalLogits} belong to the
 * runner's manager; the caller closes them when done. Inputs are never closed by the runner.
 */
public final class LlamaRunner implements AutoCloseable {
    private final LlamaConfig config;
    private final ModelSource weights;
    private final boolean ownsWeights;
    private final NDManager manager;
    private final Map<Integer, LayerWeights> layers = new HashMap<>();
    /** {@link #setLinearWeight} substitutions, each in native memory of its own that the layer's array runs on. */
    private final Map<Integer, Map<Linear, Substitution>> overrides = new HashMap<>();
    private final Map<String, float[]> tensorOverrides = new HashMap<>();
    private final Map<Integer, Rope> ropeTables = new HashMap<>();
    private final Map<Integer, NDArray> causalMasks = new HashMap<>();
    private final String embedTable;
    /** Online Hadamards the checkpoint asks for (R3 on q/k after RoPE, R4 on down_proj's input), and their matrices. */
    private final OnlineRotation online;
    private NDArray onlineR3;
    private NDArray onlineR4;
    private NDArray finalNorm;
    private NDArray lmHead;
    /** The decoded embedding table of a runner with resident layers ({@link #embed}), created on first use. */
    private NDArray embedRows;
    /** Native memory of the head (final norm, lm_head) and of the online Hadamard tables, freed on close. */
    private final Map<NDArray, Arena> headMemory = new java.util.IdentityHashMap<>();
    private final Map<NDArray, Arena> tableMemory = new java.util.IdentityHashMap<>();
    private ActivationQuantizer activations = ActivationQuantizer.NONE;
    /** Whether every layer's weights stay cached across runs (small models), see the class comment. */
    private final boolean residentLayers;
    /**
     * Edit stamps, what tells a {@link StagedLayer} whether the state it kept is still valid: a counter bumped by every
     * change of weights or activation handling; per layer the stamp of the last change of anything
     * ({@link #releaseLayer}) and of each Linear input's readers ({@link #setLinearWeight}, {@link #clearLinearWeight});
     * {@link #setTensor} and {@link #setActivations} change every layer.
     */
    private long edits;
    private long editedEverywhere;
    private final Map<Integer, long[]> editedAt = new HashMap<>();

    /**
     * f32 bytes of layer weights past which the runner keeps one layer at a time: 1 GiB, or
     * {@code -Dlowbit.runner.resident-bytes} (read when a runner opens).
     */
    public static long residentLayerBytes() {
        return Long.getLong("lowbit.runner.resident-bytes", 1L << 30);
    }

    private LlamaRunner(LlamaConfig config, ModelSource weights, boolean ownsWeights, NDManager manager) {
        this.config = config;
        this.weights = weights;
        this.ownsWeights = ownsWeights;
        this.manager = manager;
        this.embedTable = checked(config.architecture().embed(), config.vocabSize(), config.hiddenSize());
        this.activations = declaredActivations(config, weights);
        this.online = OnlineRotation.of(weights.config(), weights.path().toString());
        long perLayer = 0;
        for (Linear l : Linear.values()) {
            long[] s = linearShape(l);
            perLayer += s[0] * s[1] * Float.BYTES;
        }
        this.residentLayers = perLayer * config.numLayers() <= residentLayerBytes();
    }

    /** Whether the runner keeps every layer's weights between runs (false: one layer at a time, see the class comment). */
    public boolean residentLayers() {
        return residentLayers;
    }

    /**
     * The activation quantization {@code model}'s config declares, applied to every decoder Linear input: dynamic
     * scales computed per token / tensor, or static ones from the stored {@code input_scale} (q/k/v and gate/up
     * share an input: the largest of their scales, as vLLM does for its fused Linears).
     */
    private static ActivationQuantizer declaredActivations(LlamaConfig config, ModelSource model) {
        dev.lowbit.io.quant.ActivationScheme scheme = model.activationScheme();
        if (scheme == null) return ActivationQuantizer.NONE;
        // an input is quantized when every Linear reading it is (vLLM fuses q,k,v and gate,up: one scheme each)
        boolean[][] quantized = new boolean[config.numLayers()][LinearInput.values().length];
        boolean all = true;
        for (int layer = 0; layer < config.numLayers(); layer++) {
            for (LinearInput in : LinearInput.values()) {
                boolean q = true;
                for (Linear l : in.readers()) q &= model.quantizesInput(config.architecture().linearName(layer, l));
                quantized[layer][in.ordinal()] = q;
                all &= q;
            }
        }
        ScaledActivations scaled;
        if (scheme.dynamic()) {
            scaled = ScaledActivations.dynamic(scheme);
        } else {
            float[][] scales = new float[config.numLayers()][LinearInput.values().length];
            for (int layer = 0; layer < config.numLayers(); layer++) {
                for (LinearInput in : LinearInput.values()) {
                    if (!quantized[layer][in.ordinal()]) continue;
                    float s = 0;
                    for (Linear l : in.readers()) s = Math.max(s, model.inputScale(config.architecture().linearName(layer, l)));
                    scales[layer][in.ordinal()] = s;
                }
            }
            scaled = new ScaledActivations(scheme, (layer, in) -> scales[layer][in.ordinal()]);
        }
        return all ? scaled : scaled.onlyWhere((layer, in) -> quantized[layer][in.ordinal()]);
    }

    /**
     * Opens a Hugging Face model directory (config.json + safetensors, plain or GPTQ / compressed-tensors) or a
     * {@code .gguf} file with {@code threads} PyTorch threads; closing the runner closes the model.
     */
    public static LlamaRunner open(Path model, int threads) {
        ModelSource source = ModelSource.open(model);
        try {
            return open(source, true, threads);
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
    }

    /** Runs {@code model}, which the caller keeps and closes after the runner. */
    public static LlamaRunner open(ModelSource model, int threads) {
        return open(model, false, threads);
    }

    private static LlamaRunner open(ModelSource model, boolean owns, int threads) {
        LlamaConfig config = LlamaConfig.of(model);
        NDManager manager = DjlEngine.newManager(threads);
        try {
            return new LlamaRunner(config, model, owns, manager);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    public LlamaConfig config() {
        return config;
    }

    public NDManager manager() {
        return manager;
    }

    // ---------------------------------------------------------------- embed

    /**
     * Token embeddings of equally long windows: f32 {@code [B, T, D]}. A runner that keeps its layers resident decodes
     * the whole table once (tiny-llama-code: 16 MiB of f32) and gathers rows from it in PyTorch; a streaming one decodes
     * each row straight from the mapped table (a 7B-shaped table is 0.5 GB of f32 at vocabulary 32000). Both give the
     * decoded model rows bit for bit.
     */
    public NDArray embed(int[][] windows) {
        long t0 = ForwardProfile.start();
        int b = windows.length;
        int t = windows[0].length;
        int d = config.hiddenSize();
        long[] ids = new long[b * t];
        int n = 0;
        for (int[] window : windows) {
            if (window.length != t) throw new IllegalArgumentException("windows must have equal length");
            for (int id : window) {
                if (id < 0 || id >= config.vocabSize()) {
                    throw new BadInputException("tokens", "token id " + id + " outside vocabulary of " + config.vocabSize());
                }
                ids[n++] = id;
            }
        }
        NDArray h;
        if (residentLayers) {
            if (embedRows == null) {
                embedRows = decodedEmbedTable();
                t0 = ForwardProfile.start(); // the decode counts as weights
            }
            try (NDArray index = manager.create(ids)) {
                NDArray rows = embedRows.get(index);
                h = rows.reshape(b, t, d);
                if (h != rows) rows.close();
            }
        } else {
            // rows decoded straight into the new array's own memory: a direct buffer handed to manager.create would be
            // copied into a second one, and both freed only when the garbage collector gets round to them (at a 7B shape
            // 128 MiB a batch of 8 × 512: 2 GiB resident for a 128 × 512 calibration until a collection)
            h = manager.create(new Shape(b, t, d), ai.djl.ndarray.types.DataType.FLOAT32);
            FloatBuffer out = h.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer();
            float[] row = new float[d];
            for (long id : ids) {
                weights.readRows(embedTable, id, 1, row, 0);
                out.put(row);
            }
        }
        ForwardProfile.stop(Op.EMBED, t0);
        return h;
    }

    /** The model's embedding table decoded to f32 {@code [V, D]}, on memory freed when the runner closes. */
    private NDArray decodedEmbedTable() {
        long t0 = ForwardProfile.start();
        int d = config.hiddenSize();
        long rows = config.vocabSize();
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(rows * d * Float.BYTES, 64);
        int chunkRows = (int) Math.max(1, Math.min(rows, (1 << 16) / d));
        float[] chunk = new float[chunkRows * d];
        for (long from = 0; from < rows; from += chunkRows) {
            int count = (int) Math.min(chunkRows, rows - from);
            weights.readRows(embedTable, from, count, chunk, 0);
            MemorySegment.copy(chunk, 0, seg, NATIVE_FLOAT, from * d * Float.BYTES, count * d);
        }
        NDArray table = wrap(seg, new long[] {rows, d}, arena, tableMemory);
        ForwardProfile.stop(Op.WEIGHTS, t0);
        return table;
    }

    /**
     * Creates everything a forward over windows of {@code t} tokens reads lazily (every layer's weights, the head, the
     * embedding table, the RoPE tables and causal mask for {@code t}, the online Hadamards), so that several threads
     * may then run {@link #embed}, {@link #runLayer} and {@link #finalLogits} on windows of {@code t} tokens at once:
     * after this those calls only read the runner's state. Only for a runner with {@link #residentLayers}; nothing may
     * change weights (substitutions, {@link #setTensor}, releases) while such runs are in flight.
     */
    public void prepareConcurrentRuns(int t) {
        if (!residentLayers) throw new IllegalStateException("a streaming runner loads one layer at a time");
        for (int i = 0; i < config.numLayers(); i++) layer(i);
        if (embedRows == null) embedRows = decodedEmbedTable();
        rope(t);
        causalMask(t);
        if (online.r3()) onlineHadamard(3);
        if (online.r4()) onlineHadamard(4);
        loadHead();
    }

    /** Wraps captured hidden states {@code [B, T, D]} (e.g. read back from disk) as an array of this runner. */
    public NDArray hidden(float[] values, int windows, int tokens) {
        return manager.create(values, new Shape(windows, tokens, config.hiddenSize()));
    }

    // ---------------------------------------------------------------- one decoder layer

    /** Runs decoder layer {@code layer} on {@code x} {@code [B, T, D]}; {@code hook} sees each Linear input. */
    public NDArray runLayer(int layer, NDArray x, LinearHook hook) {
        return runLayer(layer, x, hook, null);
    }

    /**
     * Runs decoder layer {@code layer} only as far as the input {@code until} (which {@code hook} still sees) and
     * returns null; with {@code until == null}, the whole layer and its output. Calibration stages use this to skip
     * the part of the layer that their observers do not need.
     */
    public NDArray runLayer(int layer, NDArray x, LinearHook hook, LinearInput until) {
        LayerWeights w = layer(layer);
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        int d = config.hiddenSize();
        try (NDScope scope = new NDScope()) {
            // the attention block's intermediates (norm, q/k/v, RoPE, context: ~1 GB at a 7B layer over 4096 tokens)
            // are freed before the MLP runs, not held until the whole layer is done
            NDArray attnOut = scoped(() -> attentionBlock(layer, w, x, hook, until));
            if (attnOut == null) return null;
            long t0 = ForwardProfile.start();
            NDArray x1 = attnOut.reshape(b, t, d);
            x1.addi(x);
            ForwardProfile.stop(Op.RESIDUAL, t0);
            NDArray m = postAttentionNorm(w, x1);
            hook.onInput(layer, LinearInput.GATE_UP, m);
            if (until == LinearInput.GATE_UP) return null;
            NDArray mlpOut = mlpBlock(layer, w, m, hook, until);
            if (mlpOut == null) return null;
            t0 = ForwardProfile.start();
            NDArray out = mlpOut.reshape(b, t, d);
            out.addi(x1);
            ForwardProfile.stop(Op.RESIDUAL, t0);
            NDScope.unregister(out);
            return out;
        }
    }

    /**
     * The attention sub-block of layer {@code layer} on its input {@code x [B, T, D]} (input norm included): the
     * o_proj output {@code [B·T, D]}, before the residual add. AWQ's loss for the input_layernorm → q,k,v mapping.
     */
    public NDArray attention(int layer, NDArray x) {
        LayerWeights w = layer(layer);
        try (NDScope scope = new NDScope()) {
            NDArray out = attentionBlock(layer, w, x, LinearHook.NONE, null);
            NDScope.unregister(out);
            return out;
        }
    }

    /**
     * The MLP of layer {@code layer} on its normed input {@code m [rows, D]}: the down_proj output {@code [rows, D]}.
     * AWQ's loss for the post_attention_layernorm → gate,up and up → down mappings.
     */
    public NDArray mlp(int layer, NDArray m) {
        LayerWeights w = layer(layer);
        try (NDScope scope = new NDScope()) {
            NDArray out = mlpBlock(layer, w, m, LinearHook.NONE, null);
            NDScope.unregister(out);
            return out;
        }
    }

    /**
     * The normed MLP input of layer {@code layer} from the residual stream after attention {@code x1 [rows, D]}
     * (post-attention RMSNorm): what {@link #mlp} takes. AWQ's sub-block losses recompute it when the norm changed.
     */
    public NDArray mlpInput(int layer, NDArray x1) {
        LayerWeights w = layer(layer);
        try (NDScope scope = new NDScope()) {
            NDArray m = rmsNorm(x1, w.postAttentionNorm);
            NDScope.unregister(m);
            return m;
        }
    }

    /** down_proj's input silu(m·gateᵀ)·(m·upᵀ) (R4 applied when online) from the normed MLP input {@code m [rows, D]}. */
    public NDArray downInput(int layer, NDArray m) {
        LayerWeights w = layer(layer);
        NDArray[] captured = new NDArray[1];
        try (NDScope scope = new NDScope()) {
            mlpBlock(layer, w, m, (l, in, x) -> {
                if (in == LinearInput.DOWN) captured[0] = x;
            }, LinearInput.DOWN);
            NDScope.unregister(captured[0]);
            return captured[0];
        }
    }

    /**
     * The most values an attention block's input may have in one pass when nothing quantizes its inputs and the hook
     * accumulates over rows ({@link #chunkable}): 2²¹ (8 MiB of f32). Bigger inputs run a few windows at a time
     * (windows attend only to themselves) and the outputs are joined: a 7B layer over 8 windows of 512 holds q, k, v,
     * their RoPE and head layouts, the scores and the context (about 0.55 GB per 2 windows, mostly in malloc's arenas)
     * for one window at a time instead of 8. tiny-llama-code's inputs (8 × 512 × 512 = 2²¹) stay one pass.
     */
    static final long ATTENTION_INPUT_CHUNK_FLOATS = 1L << 21;

    /** Input norm, q/k/v, RoPE, grouped-query attention, o_proj: {@code [B·T, D]}; null when stopped at {@code until}. */
    private NDArray attentionBlock(int layer, LayerWeights w, NDArray x, LinearHook hook, LinearInput until) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        int d = config.hiddenSize();
        long windows = attentionWindowsPerPass(b, t, hook);
        if (windows < b) {
            ai.djl.ndarray.NDList parts = new ai.djl.ndarray.NDList();
            for (long from = 0; from < b; from += windows) {
                long f = from, to = Math.min(b, from + windows);
                NDArray part = scoped(() -> attentionWindows(layer, w, x.get(new NDIndex("{}:{}", f, to)), hook, until));
                if (part != null) parts.add(part);
            }
            if (parts.isEmpty()) return null; // stopped at q/k/v's or o_proj's input, which the hook saw chunk by chunk
            NDArray out = ai.djl.ndarray.NDArrays.concat(parts, 0);
            parts.close();
            return out;
        }
        return attentionWindows(layer, w, x, hook, until);
    }

    /**
     * How many windows of {@code b × t} one attention pass takes under {@code hook}: {@code b} (one pass), or fewer when
     * the input exceeds {@link #ATTENTION_INPUT_CHUNK_FLOATS} and the pass may be chunked. {@link StagedLayer} splits
     * its kept state the same way.
     */
    long attentionWindowsPerPass(long b, long t, LinearHook hook) {
        long windows = Math.max(1, ATTENTION_INPUT_CHUNK_FLOATS / (t * config.hiddenSize()));
        return chunkable(hook) && b > windows ? windows : b;
    }

    /** {@link #attentionBlock} on all of {@code x}'s windows at once. */
    private NDArray attentionWindows(int layer, LayerWeights w, NDArray x, LinearHook hook, LinearInput until) {
        NDArray attn = attentionContext(layer, w, x, hook, until);
        if (attn == null || until == LinearInput.O) return null;
        return outputProjection(layer, w, attn);
    }

    /** o_proj on the attention context {@code attn [rows, H·hd]} (activation quantization first, when declared). */
    NDArray outputProjection(int layer, LayerWeights w, NDArray attn) {
        attn = activations.apply(layer, LinearInput.O, attn);
        long t0 = ForwardProfile.start();
        NDArray o = linear(attn, w, Linear.O);
        ForwardProfile.stop(Op.O_PROJ, t0);
        return o;
    }

    /**
     * Input norm, q/k/v, RoPE, grouped-query attention on {@code x}'s windows: o_proj's input {@code [B·T, H·hd]}
     * (which {@code hook} has seen); null when stopped at {@code until == QKV}.
     */
    NDArray attentionContext(int layer, LayerWeights w, NDArray x, LinearHook hook, LinearInput until) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        int d = config.hiddenSize();
        int h = config.numHeads();
        int kv = config.numKvHeads();
        int hd = config.headDim();
        int rep = config.groupSize();
        NDArray a = rmsNorm(x, w.inputNorm).reshape(b * t, d);
        hook.onInput(layer, LinearInput.QKV, a);
        if (until == LinearInput.QKV) return null;
        a = activations.apply(layer, LinearInput.QKV, a);
        long t0 = ForwardProfile.start();
        NDArray qLin = linear(a, w, Linear.Q);
        NDArray kLin = linear(a, w, Linear.K);
        NDArray vLin = linear(a, w, Linear.V);
        ForwardProfile.stop(Op.QKV, t0);
        // token-major layouts [B, T, n, hd]: views of the matmul outputs, on which RoPE runs contiguously
        NDArray q = qLin.reshape(b, t, h, hd);
        NDArray k = kLin.reshape(b, t, kv, hd);
        NDArray v = vLin.reshape(b, t, kv, hd);
        if (w.qNorm != null) { // Qwen3: RMSNorm per head before RoPE
            q = rmsNorm(q, w.qNorm);
            k = rmsNorm(k, w.kNorm);
        }
        t0 = ForwardProfile.start();
        Rope rope = rope((int) t);
        q = rotate(q, rope.cosQ(), rope.sinQ()); // carries the scores' 1/√hd
        k = rotate(k, rope.cos(), rope.sin());
        ForwardProfile.stop(Op.ROPE, t0);
        if (online.r3()) { // R3: q·H, k·H with H orthogonal leaves q·kᵀ unchanged
            q = q.matMul(onlineHadamard(3));
            k = k.matMul(onlineHadamard(3));
        }
        NDArray context;
        long chunk = Math.max(1, ATTENTION_CHUNK_FLOATS / ((long) h * t * t));
        if (chunk >= b) {
            context = attend(q, k, v, b, t);
        } else { // the [.., T, T] scores and probabilities a few windows at a time
            ai.djl.ndarray.NDList parts = new ai.djl.ndarray.NDList();
            NDArray qs = q, ks = k;
            for (long from = 0; from < b; from += chunk) {
                long f = from, to = Math.min(b, from + chunk);
                NDIndex rows = new NDIndex("{}:{}", f, to);
                parts.add(scoped(() -> attend(qs.get(rows), ks.get(rows), v.get(rows), to - f, t)));
            }
            context = ai.djl.ndarray.NDArrays.concat(parts, 0);
            parts.close();
        }
        NDArray attn = context.reshape(b * t, (long) h * hd);
        if (attn != context) context.close();
        hook.onInput(layer, LinearInput.O, attn);
        return attn;
    }

    /**
     * The most values the attention scores (and then the probabilities) of one pass may have: 2²⁴ (64 MiB of f32).
     * Inputs with more windows run the [.., T, T] part a few windows at a time (q, k, v and the context stay whole): a
     * 7B layer (32 heads) over 8 windows of 512 holds 2 × 268 MB of scores and probabilities at once, two windows at a
     * time 2 × 67 MB. tiny-llama-code (8 heads) over 8 windows of 512 is exactly 2²⁴ and stays one pass.
     */
    static final long ATTENTION_CHUNK_FLOATS = 1L << 24;

    /**
     * Query positions per block of {@link #attend}: 128. Block j's queries attend to keys 0 .. end of block j only, so
     * the scores above the diagonal blocks (all masked) are never computed: over 512 positions 10 of 16 blocks of the
     * [T, T] scores, 62.5 % of the matmuls and softmax. One block's scores ([B, H, 128, ≤ T]: 8 MiB for
     * tiny-llama-code's batch of 4) also stay below glibc's mmap threshold, where a whole [B, H, T, T] array (32 MiB)
     * is mapped and page-faulted afresh on every call.
     */
    static final int QUERY_BLOCK = 128;

    /**
     * Causal softmax attention of {@code q [B, T, H, hd]} (already scaled by 1/√hd) over {@code k, v [B, T, KV, hd]}:
     * the context {@code [B, T, H·hd]}. Grouped-query attention: query head j uses key/value head j / rep; the rep
     * query heads of a key/value head are folded into rows. The queries run {@link #QUERY_BLOCK} positions at a time,
     * each block against the keys up to its last position: the dropped keys are exactly those the causal mask sets to
     * −∞, whose probabilities are exactly 0, so the result is the full softmax's up to the order of f32 sums.
     */
    private NDArray attend(NDArray q, NDArray k, NDArray v, long b, long t) {
        int h = config.numHeads();
        int kv = config.numKvHeads();
        int hd = config.headDim();
        int rep = config.groupSize();
        NDArray mask = causalMask((int) t);
        ai.djl.ndarray.NDList blocks = new ai.djl.ndarray.NDList();
        for (long from = 0; from < t; from += QUERY_BLOCK) {
            long f = from, e = Math.min(t, from + QUERY_BLOCK), n = e - from;
            blocks.add(scoped(() -> {
                long t0 = ForwardProfile.start();
                NDArray qb = q.get(new NDIndex(":, {}:{}", f, e)).reshape(b, n, kv, rep, hd)
                        .transpose(0, 2, 3, 1, 4).reshape(b, kv, rep * n, hd);
                NDArray scores = qb.matMul(k.get(new NDIndex(":, :{}", e)).transpose(0, 2, 3, 1)); // [B, KV, rep·n, e]
                t0 = ForwardProfile.stop(Op.SCORES, t0);
                NDArray masked = scores.reshape(b, kv, rep, n, e);
                masked.addi(mask.get(new NDIndex("{}:{}, :{}", f, e, e)));
                NDArray probs = masked.softmax(4).reshape(b, kv, rep * n, e);
                scores.close();
                masked.close();
                t0 = ForwardProfile.stop(Op.SOFTMAX, t0);
                NDArray context = probs.matMul(v.get(new NDIndex(":, :{}", e)).transpose(0, 2, 1, 3)); // [B, KV, rep·n, hd]
                probs.close();
                ForwardProfile.stop(Op.CONTEXT, t0);
                return context.reshape(b, kv, rep, n, hd).transpose(0, 3, 1, 2, 4); // [B, n, KV, rep, hd]
            }));
        }
        long t0 = ForwardProfile.start();
        NDArray out = blocks.size() == 1 ? blocks.getFirst().reshape(b, t, (long) h * hd)
                : ai.djl.ndarray.NDArrays.concat(blocks, 1).reshape(b, t, (long) h * hd);
        blocks.close();
        ForwardProfile.stop(Op.LAYOUT, t0);
        return out;
    }

    /**
     * The most values one MLP intermediate (gate, up, their product: {@code [rows, intermediate]}) may have when nothing
     * quantizes the MLP's inputs and the hook accumulates over rows ({@link #chunkable}): 2²³ (32 MiB of f32). Bigger
     * inputs run a chunk of rows at a time and the outputs are joined. A 7B layer's MLP over 4096 tokens holds
     * 2 × 180 MB of intermediates at once, in chunks of 762 rows 2 × 32 MiB. tiny-llama-code's batches (4096 tokens ×
     * 1536 = 6.3 M) stay whole, so its bits do not move.
     */
    static final long MLP_CHUNK_FLOATS = 1L << 23;

    /** gate/up, SiLU, down on the normed input {@code m [rows, D]}; null when stopped at {@code until}. */
    private NDArray mlpBlock(int layer, LayerWeights w, NDArray m, LinearHook hook, LinearInput until) {
        long rows = m.getShape().get(0);
        long chunk = mlpRowsPerPass(rows, hook);
        if (chunk >= rows) return mlpRows(layer, w, m, hook, until);
        ai.djl.ndarray.NDList parts = new ai.djl.ndarray.NDList();
        try {
            for (long from = 0; from < rows; from += chunk) {
                long f = from, to = Math.min(rows, from + chunk);
                NDArray part = scoped(() -> mlpRows(layer, w, m.get(new ai.djl.ndarray.index.NDIndex("{}:{}", f, to)), hook, until));
                if (part != null) parts.add(part);
            }
            if (parts.isEmpty()) return null; // stopped at down_proj's input, which the hook saw chunk by chunk
            return parts.size() == 1 ? parts.getFirst() : ai.djl.ndarray.NDArrays.concat(parts, 0);
        } finally {
            if (parts.size() > 1) parts.close();
        }
    }

    /**
     * Whether a pass may run in chunks of rows (or windows): nothing quantizes the Linear inputs (a per-tensor
     * activation scale would see only a chunk) and the hook, if any, accumulates over rows
     * ({@link LinearHook#acceptsRowChunks}).
     */
    boolean chunkable(LinearHook hook) {
        return activations == ActivationQuantizer.NONE && (hook == LinearHook.NONE || hook.acceptsRowChunks());
    }

    /**
     * How many rows one MLP pass takes under {@code hook}: {@code rows} (one pass), or fewer when the intermediates would
     * exceed {@link #MLP_CHUNK_FLOATS} and the pass may be chunked. {@link StagedLayer} splits its kept state the same way.
     */
    long mlpRowsPerPass(long rows, LinearHook hook) {
        long inter = config.intermediateSize();
        return !chunkable(hook) || rows * inter <= MLP_CHUNK_FLOATS ? rows : Math.max(1, MLP_CHUNK_FLOATS / inter);
    }

    /** The MLP's normed input {@code [B·T, D]} from the residual stream after attention {@code x1 [B, T, D]}. */
    NDArray postAttentionNorm(LayerWeights w, NDArray x1) {
        long rows = x1.getShape().get(0) * x1.getShape().get(1);
        return rmsNorm(x1, w.postAttentionNorm).reshape(rows, config.hiddenSize());
    }

    /** {@link #mlpBlock} on all of {@code m}'s rows at once. */
    private NDArray mlpRows(int layer, LayerWeights w, NDArray m, LinearHook hook, LinearInput until) {
        NDArray act = mlpHidden(layer, w, m, hook);
        if (until == LinearInput.DOWN) return null;
        return downProjection(layer, w, act);
    }

    /** down_proj on its input {@code act [rows, I]} (activation quantization first, when declared). */
    NDArray downProjection(int layer, LayerWeights w, NDArray act) {
        act = activations.apply(layer, LinearInput.DOWN, act);
        long t0 = ForwardProfile.start();
        NDArray down = linear(act, w, Linear.DOWN);
        ForwardProfile.stop(Op.DOWN, t0);
        return down;
    }

    /** gate/up and SiLU on the normed input {@code m [rows, D]}: down_proj's input {@code [rows, I]}, which {@code hook} has seen. */
    NDArray mlpHidden(int layer, LayerWeights w, NDArray m, LinearHook hook) {
        m = activations.apply(layer, LinearInput.GATE_UP, m);
        long t0 = ForwardProfile.start();
        NDArray gate = linear(m, w, Linear.GATE);
        t0 = ForwardProfile.stop(Op.GATE_UP, t0);
        NDArray act = Activation.sigmoid(gate);
        act.muli(gate);
        gate.close();
        t0 = ForwardProfile.stop(Op.SILU_MUL, t0);
        NDArray up = linear(m, w, Linear.UP);
        t0 = ForwardProfile.stop(Op.GATE_UP, t0);
        act.muli(up);
        up.close();
        ForwardProfile.stop(Op.SILU_MUL, t0);
        if (online.r4()) act = act.matMul(onlineHadamard(4)); // R4: down_proj's weight carries H's inverse
        hook.onInput(layer, LinearInput.DOWN, act);
        return act;
    }

    /**
     * The online rotation's orthonormal Hadamard (R3: head_dim, R4: intermediate size) as a dense f32 matrix: applied
     * by PyTorch's matmul where the activations already live, rather than copied out to the Walsh–Hadamard kernel and
     * back (one extra Linear's cost at these sizes).
     */
    private NDArray onlineHadamard(int which) {
        NDArray h = which == 3 ? onlineR3 : onlineR4;
        if (h != null) return h;
        int n = which == 3 ? config.headDim() : config.intermediateSize();
        double[] d = dev.lowbit.kernels.hadamard.Hadamard.of(n).dense();
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        h = persistent(f, new long[] {n, n}, tableMemory);
        if (which == 3) onlineR3 = h;
        else onlineR4 = h;
        return h;
    }

    // ---------------------------------------------------------------- edit stamps (StagedLayer)

    /** The edit counter now: a state computed now stays valid while {@link #lastEdit} is at most this. */
    long editCount() {
        return edits;
    }

    /**
     * The stamp of the last change to anything layer {@code layer} computes up to and including the Linears that read
     * {@code through} (norms, biases, tables, those Linears and the ones before them).
     */
    long lastEdit(int layer, LinearInput through) {
        long last = editedEverywhere;
        long[] at = editedAt.get(layer);
        if (at != null) for (int i = 0; i <= through.ordinal() + 1; i++) last = Math.max(last, at[i]);
        return last;
    }

    /** Records a change of layer {@code layer}: of the readers of {@code input}, or of anything (null). */
    private void edited(int layer, LinearInput input) {
        editedAt.computeIfAbsent(layer, i -> new long[LinearInput.values().length + 1])[input == null ? 0 : input.ordinal() + 1] = ++edits;
    }

    // ---------------------------------------------------------------- head

    /** Final RMSNorm and {@code lm_head} (tied to the embedding when the config says so): f32 {@code [B·T, V]}. */
    public NDArray finalLogits(NDArray x) {
        loadHead();
        try (NDScope scope = new NDScope()) {
            long rows = x.getShape().get(0) * x.getShape().get(1);
            NDArray normed = rmsNorm(x, finalNorm).reshape(rows, config.hiddenSize());
            long t0 = ForwardProfile.start();
            NDArray out = normed.matMul(lmHead.transpose());
            ForwardProfile.stop(Op.LM_HEAD, t0);
            NDScope.unregister(out);
            return out;
        }
    }

    /** Decodes the final norm and lm_head (tied to the embedding when the config says so) once. */
    private void loadHead() {
        if (finalNorm != null) return;
        long t0 = ForwardProfile.start();
        finalNorm = load(config.architecture().finalNorm(), headMemory, config.hiddenSize());
        String head = config.tieWordEmbeddings() ? config.architecture().embed() : config.architecture().lmHead();
        lmHead = load(head, headMemory, config.vocabSize(), config.hiddenSize());
        weights.releasePages();
        ForwardProfile.stop(Op.WEIGHTS, t0);
    }

    // ---------------------------------------------------------------- activation quantization

    /**
     * What every later run does to Linear inputs before the matmuls ({@link ActivationQuantizer#NONE}: nothing).
     * A runner opened on a checkpoint whose config declares input activations (compressed-tensors W8A8) starts with
     * that scheme; hooks always see the unquantized inputs.
     */
    public void setActivations(ActivationQuantizer quantizer) {
        this.activations = java.util.Objects.requireNonNull(quantizer, "quantizer");
        editedEverywhere = ++edits;
    }

    public ActivationQuantizer activations() {
        return activations;
    }

    // ---------------------------------------------------------------- weight substitution

    /**
     * Replaces the weight {@code [out, in]} (row-major f32) of {@code linear} in {@code layer} for all later runs,
     * e.g. with its quantize-dequantize image so the layer can be re-run to produce the next layer's inputs.
     */
    public void setLinearWeight(int layer, Linear linear, float[] w) {
        long[] shape = linearShape(linear);
        if (w.length != shape[0] * shape[1]) {
            throw new IllegalArgumentException(linear + " weight needs " + shape[0] + "×" + shape[1] + " values, got " + w.length);
        }
        Substitution s = Substitution.of(w);
        edited(layer, linear.input());
        Substitution old = overrides.computeIfAbsent(layer, i -> new EnumMap<>(Linear.class)).put(linear, s);
        LayerWeights cached = layers.get(layer);
        if (cached != null) {
            cached.trit.remove(linear);
            cached.replaceWeight(linear, wrap(s.values(), shape, null, null));
        }
        if (old != null) old.arena().close(); // no array runs on it any more
    }

    /**
     * Drops a {@link #setLinearWeight} substitution: later runs read the weight from the model again (only that
     * weight is reloaded). AWQ's scale search swaps each candidate in and out this way.
     */
    public void clearLinearWeight(int layer, Linear linear) {
        Map<Linear, Substitution> o = overrides.get(layer);
        Substitution gone = o == null ? null : o.remove(linear);
        if (gone == null) return;
        edited(layer, linear.input());
        if (o.isEmpty()) overrides.remove(layer);
        LayerWeights cached = layers.get(layer);
        if (cached != null) {
            if ("lut".equals(System.getProperty("lowbit.trit.kernel"))) { // the trit path decides per tensor: reload all
                releaseLayer(layer);
            } else {
                long[] shape = linearShape(linear);
                cached.replaceWeight(linear, load(config.architecture().linearName(layer, linear) + ".weight", cached.memory, shape[0], shape[1]));
            }
        }
        gone.arena().close(); // after the array that ran on it was closed
    }

    /** The f32 weight {@code [out, in]} currently used for {@code linear} in {@code layer} (substituted or original). */
    public float[] linearWeight(int layer, Linear linear) {
        Substitution o = overrides.getOrDefault(layer, Map.of()).get(linear);
        if (o != null) return o.values().toArray(NATIVE_FLOAT);
        long[] shape = linearShape(linear);
        float[] w = tensor(checked(config.architecture().linearName(layer, linear) + ".weight", shape[0], shape[1]));
        // streaming: the pages just read leave the resident set again (a 7B layer's Linears are 0.4 GB of bf16 pages)
        if (!residentLayers) weights.releasePages();
        return w;
    }

    /**
     * Replaces any tensor of the model by name (a norm weight, a bias, a Linear weight) with f32 values of the same
     * element count, for all later runs: how a weight transform (AWQ, SmoothQuant) is run before it is written.
     * {@link #setLinearWeight} substitutions take precedence over this for Linear weights.
     */
    public void setTensor(String name, float[] values) {
        long n = 1;
        for (long dim : weights.shape(name)) n *= dim;
        if (values.length != n) throw new IllegalArgumentException(name + " needs " + n + " values, got " + values.length);
        tensorOverrides.put(name, values.clone());
        editedEverywhere = ++edits;
        layers.values().forEach(LayerWeights::close);
        layers.clear();
        if (finalNorm != null) {
            finalNorm.close();
            lmHead.close();
            headMemory.values().forEach(Arena::close);
            headMemory.clear();
            finalNorm = null;
            lmHead = null;
        }
    }

    /** Whether the model has a tensor called {@code name} (e.g. an optional bias). */
    public boolean hasTensor(String name) {
        return weights.contains(name);
    }

    /** The f32 values the runner uses for {@code name}: a {@link #setTensor} replacement or the model's own. */
    public float[] tensor(String name) {
        float[] o = tensorOverrides.get(name);
        return o != null ? o.clone() : weights.readAll(name);
    }

    /** Frees layer {@code layer}'s NDArrays (they are recreated, with substitutions, on the next run). */
    public void releaseLayer(int layer) {
        edited(layer, null); // a caller that changed what the layer reads (e.g. an overlay) releases it
        LayerWeights w = layers.remove(layer);
        if (w != null) w.close();
    }

    /**
     * Frees layer {@code layer}'s arrays and forgets its {@link #setLinearWeight} substitutions, for a caller that will
     * not run the layer again: what keeps a layer-by-layer quantization's heap from growing by one f32 copy of every
     * quantized Linear (26 GB at 7B).
     */
    public void forgetLayer(int layer) {
        releaseLayer(layer);
        Map<Linear, Substitution> gone = overrides.remove(layer);
        if (gone != null) gone.values().forEach(s -> s.arena().close());
    }

    /** {@code [out, in]} of a Linear. */
    public long[] linearShape(Linear linear) {
        long d = config.hiddenSize();
        long qDim = (long) config.numHeads() * config.headDim();
        long kvDim = (long) config.numKvHeads() * config.headDim();
        long ff = config.intermediateSize();
        return switch (linear) {
            case Q -> new long[] {qDim, d};
            case K, V -> new long[] {kvDim, d};
            case O -> new long[] {d, qDim};
            case GATE, UP -> new long[] {ff, d};
            case DOWN -> new long[] {d, ff};
        };
    }

    @Override
    public void close() {
        layers.values().forEach(LayerWeights::close);
        layers.clear();
        overrides.values().forEach(m -> m.values().forEach(s -> s.arena().close()));
        overrides.clear();
        manager.close(); // closes the head and table arrays before their memory goes
        headMemory.values().forEach(Arena::close);
        tableMemory.values().forEach(Arena::close);
        if (ownsWeights) weights.close();
    }

    // ---------------------------------------------------------------- internals

    /** Layer {@code i}'s weights (with substitutions), created on first use. */
    LayerWeights layer(int i) {
        if (i < 0 || i >= config.numLayers()) throw new IllegalArgumentException("layer " + i + " of " + config.numLayers());
        LayerWeights w = layers.get(i);
        if (w != null) return w;
        if (!residentLayers) { // streaming: the layer about to run is the only one kept
            layers.values().forEach(LayerWeights::close);
            layers.clear();
        }
        long t0 = ForwardProfile.start();
        Architecture arch = config.architecture();
        w = new LayerWeights();
        Map<Linear, Substitution> subst = overrides.getOrDefault(i, Map.of());
        for (Linear l : Linear.values()) {
            long[] shape = linearShape(l);
            String name = arch.linearName(i, l);
            dev.lowbit.kernels.trit.TritMatrix trit = subst.containsKey(l) ? null : tritMatrix(name + ".weight", shape);
            if (trit != null) w.trit.put(l, trit);
            else w.weight.put(l, subst.containsKey(l) ? wrap(subst.get(l).values(), shape, null, null)
                    : load(name + ".weight", w.memory, shape[0], shape[1]));
            if (weights.contains(name + ".bias")) w.bias.put(l, load(name + ".bias", w.memory, shape[0]));
        }
        w.inputNorm = load(arch.layerTensor(i, arch.inputNorm()), w.memory, config.hiddenSize());
        w.postAttentionNorm = load(arch.layerTensor(i, arch.postAttentionNorm()), w.memory, config.hiddenSize());
        if (arch.qkNorm() != null) {
            w.qNorm = load(arch.layerTensor(i, arch.qkNorm().q()), w.memory, config.headDim());
            w.kNorm = load(arch.layerTensor(i, arch.qkNorm().k()), w.memory, config.headDim());
        }
        layers.put(i, w);
        if (!residentLayers) weights.releasePages();
        ForwardProfile.stop(Op.WEIGHTS, t0);
        return w;
    }

    /**
     * Trit-plane weights (ternary planes, equal groups) in the LUT kernel's layout when {@code -Dlowbit.trit.kernel=lut}
     * asks for it; null otherwise (the dequantized f32 weight through DJL's matmul, the default).
     */
    private dev.lowbit.kernels.trit.TritMatrix tritMatrix(String name, long[] shape) {
        if (!"lut".equals(System.getProperty("lowbit.trit.kernel"))) return null;
        var q = weights.quantized(name).orElse(null);
        if (q == null || q.scheme().element() != dev.lowbit.io.quant.QuantScheme.ElementType.TERNARY) return null;
        if (q.salient() != null) return null; // PB-LLM's 8-bit salient weights: the kernel has no path for them, f32 matmul
        checked(name, shape);
        int groups = q.groups();
        byte[][] codes = new byte[q.planes().size()][];
        float[][] scales = new float[q.planes().size()][];
        for (int p = 0; p < codes.length; p++) {
            codes[p] = q.planes().get(p).codes();
            scales[p] = q.planes().get(p).scales();
        }
        return dev.lowbit.kernels.trit.TritMatrix.of(q.rows(), q.cols(), q.cols() / groups, codes, scales);
    }

    private NDArray linear(NDArray x, LayerWeights w, Linear l) {
        dev.lowbit.kernels.trit.TritMatrix trit = w.trit.get(l);
        NDArray y;
        if (trit != null) {
            // multiplication-free: each activation row through the LUT GEMV ([rows, in] → [rows, out])
            float[] in = x.toFloatArray();
            int n = in.length / trit.cols();
            float[] out = new float[n * trit.rows()];
            dev.lowbit.kernels.trit.TritLut.chosen().gemm(trit, in, n, out);
            // manager.create wraps a Java direct buffer that DJL drops when that array is closed; a view of it (the
            // layer output is a reshape of down_proj's) would then read freed memory. A clone is owned by PyTorch.
            try (NDArray wrapped = manager.create(out, new Shape(n, trit.rows()))) {
                y = wrapped.duplicate();
            }
        } else {
            y = x.matMul(w.weight.get(l).transpose());
        }
        NDArray bias = w.bias.get(l);
        return bias == null ? y : y.add(bias);
    }

    private NDArray rmsNorm(NDArray x, NDArray gamma) {
        long t0 = ForwardProfile.start();
        NDArray out = scoped(() -> {
            NDArray meanSquare = x.square().mean(new int[] {-1}, true);
            return x.div(meanSquare.add(config.rmsNormEps()).sqrt()).mul(gamma);
        });
        ForwardProfile.stop(Op.NORM, t0);
        return out;
    }

    /**
     * Runs {@code body} in a scope of its own: the arrays it creates are closed when it returns, except its result
     * (null allowed), which joins the enclosing scope (if any) as if created there. Same operations, same bits; the
     * intermediates just do not wait for the enclosing scope's end.
     */
    static NDArray scoped(java.util.function.Supplier<NDArray> body) {
        NDArray out;
        try (NDScope inner = new NDScope()) {
            out = body.get();
            if (out != null) NDScope.unregister(out);
        }
        if (out != null) NDScope.register(out);
        return out;
    }

    /**
     * RoPE, rotate-half convention, on {@code x [B, T, n, hd]}: {@code x·cos + (−x₂, x₁)·sin} with {@code x = (x₁, x₂)}
     * split at hd/2, computed as {@code x·cos + (x₂, x₁)·sin±} with {@code sin± = (−sin₁, sin₂)} (the same products:
     * negating a factor is exact). Tables {@code [T, 1, hd]}.
     */
    private NDArray rotate(NDArray x, NDArray cos, NDArray sinSigned) {
        int half = config.headDim() / 2;
        return scoped(() -> {
            NDArray swapped = ai.djl.ndarray.NDArrays.concat(new ai.djl.ndarray.NDList(
                    x.get(new NDIndex("..., {}:", half)), x.get(new NDIndex("..., :{}", half))), 3);
            swapped.muli(sinSigned);
            NDArray out = x.mul(cos);
            out.addi(swapped);
            return out;
        });
    }

    /**
     * RoPE tables {@code [T, 1, hd]} of {@code pos·inv_freq[i mod hd/2]} (computed in f32 like transformers): cos, and
     * sin with its first half negated ({@link #rotate}); for the queries both also times 1/√hd, the attention scores'
     * scale (exact when hd is a power of 4, as 64 or 256; otherwise one rounding of the product moved).
     */
    private record Rope(NDArray cos, NDArray sin, NDArray cosQ, NDArray sinQ) {}

    private Rope rope(int t) {
        return ropeTables.computeIfAbsent(t, n -> {
            int hd = config.headDim();
            float scale = (float) (1.0 / Math.sqrt(hd));
            float[] inv = config.ropeScaling().inverseFrequencies(config.ropeTheta(), hd);
            float[][] tables = new float[4][n * hd];
            for (int p = 0; p < n; p++) {
                for (int i = 0; i < hd; i++) {
                    float angle = p * inv[i % (hd / 2)];
                    float c = (float) Math.cos(angle);
                    float s = (float) Math.sin(angle);
                    if (i < hd / 2) s = -s;
                    tables[0][p * hd + i] = c;
                    tables[1][p * hd + i] = s;
                    tables[2][p * hd + i] = c * scale;
                    tables[3][p * hd + i] = s * scale;
                }
            }
            NDArray[] a = new NDArray[4];
            for (int i = 0; i < 4; i++) a[i] = persistent(tables[i], new long[] {n, 1, hd}, tableMemory);
            return new Rope(a[0], a[1], a[2], a[3]);
        });
    }

    /** {@code [T, T]}: 0 where key position ≤ query position, −∞ above the diagonal. */
    private NDArray causalMask(int t) {
        return causalMasks.computeIfAbsent(t, n -> {
            float[] m = new float[n * n];
            for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) m[i * n + j] = Float.NEGATIVE_INFINITY;
            NDArray a = manager.create(m, new Shape(n, n));
            NDScope.unregister(a);
            return a;
        });
    }

    /** {@code name}, after checking that the model has it with {@code shape}. */
    private String checked(String name, long... shape) {
        long[] got = weights.shape(name);
        if (!java.util.Arrays.equals(got, shape)) {
            throw new BadInputException(name, "shape " + java.util.Arrays.toString(got) + " does not match config.json (expected "
                    + java.util.Arrays.toString(shape) + ")");
        }
        return name;
    }

    /**
     * Decodes a checkpoint tensor to f32 in Java (DJL never sees bf16), a chunk of rows at a time, into a new NDArray
     * whose memory {@code owner} frees (after the array is closed).
     */
    private NDArray load(String name, Map<NDArray, Arena> owner, long... shape) {
        checked(name, shape);
        float[] replaced = tensorOverrides.get(name);
        if (replaced != null) return persistent(replaced, shape, owner);
        int len = weights.rowLength(name);
        long rows = weights.rowCount(name);
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(rows * len * Float.BYTES, 64);
        int chunkRows = (int) Math.max(1, Math.min(rows, (1 << 16) / len));
        float[] chunk = new float[chunkRows * len];
        for (long from = 0; from < rows; from += chunkRows) {
            int count = (int) Math.min(chunkRows, rows - from);
            weights.readRows(name, from, count, chunk, 0);
            MemorySegment.copy(chunk, 0, seg, NATIVE_FLOAT, from * len * Float.BYTES, count * len);
        }
        return wrap(seg, shape, arena, owner);
    }

    /**
     * An array that outlives any {@link NDScope} open on this thread (weights), on memory {@code owner} frees.
     * Weights are created this way rather than with {@code manager.create(float[])}, whose direct buffers are freed
     * only when the garbage collector gets round to them: at 7B sizes that let gigabytes of closed layers stay resident.
     */
    private NDArray persistent(float[] values, long[] shape, Map<NDArray, Arena> owner) {
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate((long) values.length * Float.BYTES, 64);
        MemorySegment.copy(values, 0, seg, NATIVE_FLOAT, 0, values.length);
        return wrap(seg, shape, arena, owner);
    }

    /**
     * An array over {@code seg} (PyTorch's from_blob: no copy), recorded in {@code owner} with the arena that frees
     * its memory after the array is closed.
     */
    private NDArray wrap(MemorySegment seg, long[] shape, Arena arena, Map<NDArray, Arena> owner) {
        NDArray a = manager.create(seg.asByteBuffer().order(ByteOrder.nativeOrder()), new Shape(shape), ai.djl.ndarray.types.DataType.FLOAT32);
        NDScope.unregister(a);
        if (owner != null) owner.put(a, arena); // null: the memory belongs to someone else (a Substitution)
        return a;
    }

    /**
     * A substituted Linear weight in native memory of its own: the layer's array is created over it (no copy), and
     * it outlives the layer's arrays, so a streamed layer that is loaded again runs on it. Kept off the heap: a 7B
     * layer's quantized Linears were one more f32 heap copy each (0.81 GB) until the layer was finished.
     */
    private record Substitution(Arena arena, MemorySegment values) {
        static Substitution of(float[] w) {
            Arena arena = Arena.ofShared();
            MemorySegment seg = arena.allocate((long) w.length * Float.BYTES, 64);
            MemorySegment.copy(w, 0, seg, NATIVE_FLOAT, 0, w.length);
            return new Substitution(arena, seg);
        }
    }

    private static final java.lang.foreign.ValueLayout.OfFloat NATIVE_FLOAT =
            java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.nativeOrder());

}
