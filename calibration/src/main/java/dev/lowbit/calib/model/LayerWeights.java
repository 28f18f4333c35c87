package dev.lowbit.calib.model;

import ai.djl.ndarray.NDArray;
import java.util.EnumMap;
import java.util.Map;

/**
 * One decoder layer's parameters as f32 NDArrays, created once and reused for every batch:
 * Linear weights {@code [out, in]} with optional biases {@code [out]}, the two RMSNorm weights and, for Qwen3,
 * the per-head q/k norm weights {@code [head_dim]} (else null).
 */
final class LayerWeights implements AutoCloseable {
    final Map<Linear, NDArray> weight = new EnumMap<>(Linear.class);
    final Map<Linear, NDArray> bias = new EnumMap<>(Linear.class);
    /** Trit-plane Linears run by the LUT kernel instead of an f32 weight (no entry in {@link #weight}). */
    final Map<Linear, dev.lowbit.kernels.trit.TritMatrix> trit = new EnumMap<>(Linear.class);
    NDArray inputNorm;
    NDArray postAttentionNorm;
    NDArray qNorm;
    NDArray kNorm;
    /** Native memory the arrays above were created on (not left to the garbage collector), freed after them. */
    final Map<NDArray, java.lang.foreign.Arena> memory = new java.util.IdentityHashMap<>();

    /** Sets {@code linear}'s weight, closing the one it replaces and freeing that one's memory at once. */
    void replaceWeight(Linear linear, NDArray a) {
        NDArray old = weight.put(linear, a);
        if (old == null) return;
        old.close();
        java.lang.foreign.Arena m = memory.remove(old);
        if (m != null) m.close();
    }

    @Override
    public void close() {
        weight.values().forEach(NDArray::close);
        bias.values().forEach(NDArray::close);
        for (NDArray a : new NDArray[] {inputNorm, postAttentionNorm, qNorm, kNorm}) if (a != null) a.close();
        memory.values().forEach(java.lang.foreign.Arena::close);
        memory.clear();
    }
}
