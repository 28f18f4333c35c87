package dev.lowbit.io.model;

import dev.lowbit.io.hf.HfConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A {@link ModelSource} with some tensors replaced by f32 values held in memory: what the quantize pipeline runs the
 * model on while weight transforms rewrite it (an edited norm or embedding is seen by the runner on its next load).
 * Tensors not replaced are read from the underlying source; a replaced tensor keeps its name and may not change
 * shape, except that a tensor the source lacks may be added (an untied {@code lm_head}). Closing closes nothing: the
 * caller owns the underlying source.
 */
public final class OverlayModelSource implements ModelSource {
    private record Replaced(long[] shape, float[] values) {}

    private final ModelSource base;
    private final Map<String, Replaced> replaced = new HashMap<>();

    public OverlayModelSource(ModelSource base) {
        this.base = base;
    }

    /** Replaces (or adds) {@code name}; the overlay keeps {@code values} (no copy). */
    public void put(String name, long[] shape, float[] values) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        if (n != values.length) throw new IllegalArgumentException(name + ": " + values.length + " values for " + n + " elements");
        if (base.contains(name) && !java.util.Arrays.equals(base.shape(name), shape)) {
            throw new IllegalArgumentException(name + ": a replacement may not change the shape " + java.util.Arrays.toString(base.shape(name)));
        }
        replaced.put(name, new Replaced(shape.clone(), values));
    }

    /** Drops the replacement of {@code name} (reads go to the source again). */
    public void remove(String name) {
        replaced.remove(name);
    }

    /** Whether {@code name} is replaced. */
    public boolean isReplaced(String name) {
        return replaced.containsKey(name);
    }

    @Override
    public Path path() {
        return base.path();
    }

    @Override
    public HfConfig config() {
        return base.config();
    }

    @Override
    public Optional<Path> tokenizerFile() {
        return base.tokenizerFile();
    }

    @Override
    public String tokenizerJson() {
        return base.tokenizerJson();
    }

    @Override
    public List<String> tensorNames() {
        List<String> names = new ArrayList<>(base.tensorNames());
        for (String n : replaced.keySet()) if (!base.contains(n)) names.add(n);
        return names;
    }

    @Override
    public boolean contains(String name) {
        return replaced.containsKey(name) || base.contains(name);
    }

    @Override
    public long[] shape(String name) {
        Replaced r = replaced.get(name);
        return r != null ? r.shape.clone() : base.shape(name);
    }

    @Override
    public void readRows(String name, long first, int count, float[] out, int offset) {
        Replaced r = replaced.get(name);
        if (r == null) {
            base.readRows(name, first, count, out, offset);
            return;
        }
        int len = r.shape.length == 0 ? 1 : Math.toIntExact(r.shape[r.shape.length - 1]);
        long rows = r.values.length / Math.max(1, len);
        if (first < 0 || count < 0 || first + count > rows) {
            throw new IllegalArgumentException(name + ": rows [" + first + ", " + (first + count) + ") of " + rows);
        }
        System.arraycopy(r.values, Math.toIntExact(first * len), out, offset, Math.multiplyExact(count, len));
    }

    @Override
    public Optional<dev.lowbit.io.quant.QuantizedTensor> quantized(String name) {
        return replaced.containsKey(name) ? Optional.empty() : base.quantized(name);
    }

    @Override
    public void releasePages() {
        base.releasePages();
    }

    @Override
    public void close() {}
}
