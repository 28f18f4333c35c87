package dev.lowbit.ptq.transform;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Mutable f32 tensors by Hugging Face name ({@code model.layers.3.self_attn.q_proj.weight}), each with its PyTorch
 * shape ({@code [out, in]} for a Linear weight, {@code [D]} for a norm) and row-major values. This is what a
 * {@link WeightTransform} edits: one decoder layer's tensors ({@link LayerContext#tensors()}) or the model's global
 * tensors ({@link ModelContext#globals()}).
 *
 * <p>Change tracking is explicit, so the pipeline knows what to write instead of copying the source:
 * <ul>
 *   <li>{@link #read} gives the live array for reading only; do not modify it;</li>
 *   <li>{@link #edit} gives the same live array and marks the tensor changed: modify it in place;</li>
 *   <li>{@link #put} replaces (or adds) a tensor and marks it changed, e.g. an untied {@code lm_head}.</li>
 * </ul>
 * A set is used by one thread at a time.
 */
public final class TensorSet {
    private final Map<String, long[]> shapes = new LinkedHashMap<>();
    private final Map<String, float[]> values = new LinkedHashMap<>();
    private final Set<String> changed = new LinkedHashSet<>();

    /** Adds a tensor as it is in the source (not marked changed); used by the pipeline to fill the set. */
    public void load(String name, long[] shape, float[] v) {
        check(name, shape, v);
        shapes.put(name, shape.clone());
        values.put(name, v);
    }

    /** Whether the set holds {@code name}. */
    public boolean contains(String name) {
        return values.containsKey(name);
    }

    /** Tensor names, in the order they were loaded or put. */
    public List<String> names() {
        return List.copyOf(values.keySet());
    }

    /** PyTorch shape of {@code name}. */
    public long[] shape(String name) {
        return require(name, shapes).clone();
    }

    /** The live values of {@code name}, row-major; for reading only ({@link #edit} to modify). */
    public float[] read(String name) {
        return require(name, values);
    }

    /** The live values of {@code name} to modify in place; marks the tensor changed. */
    public float[] edit(String name) {
        float[] v = require(name, values);
        changed.add(name);
        return v;
    }

    /** Replaces or adds {@code name}; marks it changed. The set keeps {@code v} (no copy). */
    public void put(String name, long[] shape, float[] v) {
        check(name, shape, v);
        shapes.put(name, shape.clone());
        values.put(name, v);
        changed.add(name);
    }

    /** Names of the tensors {@link #edit}ed or {@link #put} since loading, in that order. */
    public Set<String> changed() {
        return Collections.unmodifiableSet(changed);
    }

    /**
     * A deep copy (values copied, change marks kept): a candidate to score with {@link LayerLoss} without touching
     * this set.
     */
    public TensorSet copy() {
        TensorSet c = new TensorSet();
        for (String n : values.keySet()) {
            c.shapes.put(n, shapes.get(n).clone());
            c.values.put(n, values.get(n).clone());
        }
        c.changed.addAll(changed);
        return c;
    }

    private static void check(String name, long[] shape, float[] v) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        if (n != v.length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " holds " + n
                    + " values, got " + v.length);
        }
    }

    private static <T> T require(String name, Map<String, T> m) {
        T t = m.get(name);
        if (t == null) throw new IllegalArgumentException("no tensor '" + name + "' in this set (has " + m.keySet() + ")");
        return t;
    }
}
