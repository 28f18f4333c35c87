package dev.lowbit.ptq.rotate;

import dev.lowbit.io.arch.ModelArchitecture.Slot;
import dev.lowbit.io.arch.ModelDims;
import dev.lowbit.io.arch.TensorRole;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * R1 + R2 of a Llama-family decoder (QuaRot / SpinQuant, ALGORITHMS.md §3), as a map from each source tensor to its
 * rotated value. The rotated model computes the same function (up to rounding) and is a plain checkpoint of the same
 * architecture; it needs no operation at run time.
 *
 * <p>Row vectors, weights {@code W [out, in]}, y = x·Wᵀ. With h the residual stream:
 * <ol>
 *   <li>Norm folding: every RMSNorm weight γ moves into the Linears that read it (q, k, v ← W·diag(γ₁);
 *       gate, up ← W·diag(γ₂); lm_head ← W·diag(γ_final)) and the norm becomes all ones, so RMSNorm(h·R) =
 *       RMSNorm(h)·R for orthogonal R. Nothing is centred: RMSNorm has no mean.</li>
 *   <li>R1 (hidden × hidden): h' = h·R1 everywhere. Embedding E ← E·R1; every reader of the stream
 *       (q, k, v, gate, up, lm_head) W ← W·R1; every writer (o, down) W ← R1ᵀ·W and b ← b·R1.</li>
 *   <li>R2 (head_dim, one per layer): v_proj's rows of every key/value head W_h ← R2ᵀ·W_h (b_h ← b_h·R2), o_proj's
 *       columns of every query head W[:, h] ← W[:, h]·R2. Each value head is rotated and un-rotated before o_proj; the
 *       attention weights only mix positions, and GQA repeats whole value heads, so one R2 per layer serves every
 *       head.</li>
 * </ol>
 * A tied embedding is untied: the rotated lm_head E·diag(γ_final)·R1 differs from the rotated embedding E·R1.
 * Qwen3's per-head q/k norms act on q and k, which no rotation touches, and stay as they are.
 *
 * <p>R1 = {@link RandomHadamard} of the hidden size with {@code seed}; R2 of layer l with the seed
 * {@link #r2Seed}(seed, l).
 */
public final class ModelRotation {
    private final ModelDims dims;
    private final long seed;
    private final RandomHadamard r1;
    private final RandomHadamard[] r2;

    private ModelRotation(ModelDims dims, long seed, RandomHadamard r1, RandomHadamard[] r2) {
        this.dims = dims;
        this.seed = seed;
        this.r1 = r1;
        this.r2 = r2;
    }

    /** Why {@code dims} cannot be rotated (one line per size without a Hadamard matrix); empty when it can. */
    public static List<String> problems(ModelDims dims) {
        List<String> out = new ArrayList<>();
        if (RandomHadamard.tryOf(dims.hidden(), 0).isEmpty()) {
            out.add("hidden_size " + dims.hidden() + " (R1, tensor 'model.embed_tokens.weight' columns): "
                    + dev.lowbit.kernels.hadamard.Hadamard.unsupported(dims.hidden()));
        }
        if (RandomHadamard.tryOf(dims.headDim(), 0).isEmpty()) {
            out.add("head_dim " + dims.headDim() + " (R2, tensor 'model.layers.0.self_attn.v_proj.weight' rows per head): "
                    + dev.lowbit.kernels.hadamard.Hadamard.unsupported(dims.headDim()));
        }
        return out;
    }

    /**
     * The rotation of a model of these dimensions with {@code seed}.
     *
     * @throws IllegalArgumentException with the first of {@link #problems} when a size has no Hadamard matrix
     */
    public static ModelRotation of(ModelDims dims, long seed) {
        List<String> p = problems(dims);
        if (!p.isEmpty()) throw new IllegalArgumentException(p.getFirst());
        RandomHadamard[] r2 = new RandomHadamard[dims.layers()];
        for (int l = 0; l < r2.length; l++) r2[l] = RandomHadamard.of(dims.headDim(), r2Seed(seed, l));
        return new ModelRotation(dims, seed, RandomHadamard.of(dims.hidden(), seed), r2);
    }

    /** The seed of layer l's R2: the (l+1)-th {@code nextLong()} of {@code new SplittableRandom(seed)}. */
    public static long r2Seed(long seed, int layer) {
        SplittableRandom r = new SplittableRandom(seed);
        long s = 0;
        for (int i = 0; i <= layer; i++) s = r.nextLong();
        return s;
    }

    public long seed() {
        return seed;
    }

    public ModelDims dims() {
        return dims;
    }

    public RandomHadamard r1() {
        return r1;
    }

    public RandomHadamard r2(int layer) {
        return r2[layer];
    }

    /** The norm whose weight is folded into {@code slot}'s weight (q/k/v ← input norm, …), or empty. */
    public static Optional<Slot> foldedNorm(Slot slot) {
        if (slot.isBias()) return Optional.empty();
        return switch (slot.role()) {
            case Q, K, V -> Optional.of(new Slot(TensorRole.INPUT_NORM, slot.layer(), "weight"));
            case GATE, UP -> Optional.of(new Slot(TensorRole.POST_ATTENTION_NORM, slot.layer(), "weight"));
            case LM_HEAD -> Optional.of(new Slot(TensorRole.FINAL_NORM, -1, "weight"));
            default -> Optional.empty();
        };
    }

    /**
     * Whether a row of the rotated tensor depends only on the same row of the source (so rows can be rotated as they
     * are read); false for tensors whose rows R1ᵀ or R2ᵀ mix (o, down, v weights and the v, o, down biases).
     */
    public static boolean rowLocal(Slot slot) {
        return switch (slot.role()) {
            case O, DOWN -> false;
            case V -> false;
            default -> true;
        };
    }

    /**
     * Rotates, in place, {@code rows} rows of {@code slot}'s tensor (row length {@code cols}) starting at source row
     * {@code firstRow}. For tensors that are not {@link #rowLocal} the rows must be the whole tensor. {@code gamma} is the
     * weight of {@link #foldedNorm}(slot), or null when it has none.
     */
    public void rotate(Slot slot, float[] w, int rows, int cols, float[] gamma) {
        TensorRole role = slot.role();
        if (gamma != null) {
            if (gamma.length != cols) throw new IllegalArgumentException(slot.hfName() + ": norm of " + gamma.length + " for rows of " + cols);
            for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) w[r * cols + c] *= gamma[c];
        }
        int hd = dims.headDim();
        switch (role) {
            case EMBED, LM_HEAD, Q, K, GATE, UP -> {
                if (!slot.isBias()) r1.rotateRows(w, 0, rows);
            }
            case V -> {
                RandomHadamard r = r2[slot.layer()];
                if (slot.isBias()) {
                    r.rotateRows(w, 0, cols / hd); // b_h ← b_h·R2
                } else {
                    requireWhole(slot, rows, (long) dims.kvHeads() * hd);
                    r1.rotateRows(w, 0, rows);
                    for (int head = 0; head < dims.kvHeads(); head++) r.rotateColumns(w, head * hd * cols, cols);
                }
            }
            case O, DOWN -> {
                if (slot.isBias()) {
                    r1.rotateRows(w, 0, 1);
                } else {
                    requireWhole(slot, rows, dims.hidden());
                    r1.rotateColumns(w, 0, cols);
                    if (role == TensorRole.O) r2[slot.layer()].rotateRows(w, 0, rows * (cols / hd));
                }
            }
            case INPUT_NORM, POST_ATTENTION_NORM, FINAL_NORM -> java.util.Arrays.fill(w, 0, rows * cols, 1f);
            case Q_NORM, K_NORM -> { }
        }
    }

    private static void requireWhole(Slot slot, int rows, long expected) {
        if (rows != expected) throw new IllegalArgumentException(slot.hfName() + ": rotating rows mixes all " + expected + " rows, got " + rows);
    }
}
