package dev.lowbit.io.model;

import dev.lowbit.io.hf.HfConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model with some tensors replaced by f32 values of the same shape (a weight transform's output), read like the
 * base otherwise. Closing closes the base.
 */
public final class OverlayModelSource implements ModelSource {
    private final ModelSource base;
    private final Map<String, float[]> replaced;

    public OverlayModelSource(ModelSource base, Map<String, float[]> replaced) {
        for (Map.Entry<String, float[]> e : replaced.entrySet()) {
            long n = 1;
            for (long d : base.shape(e.getKey())) n *= d;
            if (n != e.getValue().length) throw new IllegalArgumentException(e.getKey() + ": " + e.getValue().length + " values replace " + n);
        }
        this.base = base;
        this.replaced = Map.copyOf(replaced);
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
        return base.tensorNames();
    }

    @Override
    public boolean contains(String name) {
        return base.contains(name);
    }

    @Override
    public long[] shape(String name) {
        return base.shape(name);
    }

    @Override
    public void readRows(String name, long first, int count, float[] out, int offset) {
        float[] v = replaced.get(name);
        if (v == null) {
            base.readRows(name, first, count, out, offset);
            return;
        }
        int len = rowLength(name);
        if (first < 0 || count < 0 || (first + count) * len > v.length) {
            throw new IllegalArgumentException(name + ": rows [" + first + ", " + (first + count) + ") of " + v.length / len);
        }
        System.arraycopy(v, Math.toIntExact(first * len), out, offset, count * len);
    }

    @Override
    public dev.lowbit.io.quant.ActivationScheme activationScheme() {
        return base.activationScheme();
    }

    @Override
    public float inputScale(String module) {
        return base.inputScale(module);
    }

    @Override
    public void close() {
        base.close();
    }
}
