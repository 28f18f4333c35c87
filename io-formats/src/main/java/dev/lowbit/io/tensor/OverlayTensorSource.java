package dev.lowbit.io.tensor;

import java.util.List;
import java.util.Map;

/**
 * A checkpoint with some tensors replaced by f32 values of the same shape (what a weight transform such as AWQ or
 * SmoothQuant rewrote); every other tensor is the base's. Closing closes the base.
 */
public final class OverlayTensorSource implements TensorSource {
    private final TensorSource base;
    private final Map<String, float[]> replaced;

    public OverlayTensorSource(TensorSource base, Map<String, float[]> replaced) {
        for (Map.Entry<String, float[]> e : replaced.entrySet()) {
            Tensor t = base.tensor(e.getKey());
            if (t.elementCount() != e.getValue().length) {
                throw new IllegalArgumentException(e.getKey() + ": " + e.getValue().length + " values replace " + t.shape());
            }
        }
        this.base = base;
        this.replaced = Map.copyOf(replaced);
    }

    @Override
    public List<String> names() {
        return base.names();
    }

    @Override
    public boolean contains(String name) {
        return base.contains(name);
    }

    @Override
    public Tensor tensor(String name) {
        float[] v = replaced.get(name);
        if (v == null) return base.tensor(name);
        return Tensor.ofFloats(name, base.tensor(name).shape(), v);
    }

    @Override
    public Map<String, String> metadata() {
        return base.metadata();
    }

    @Override
    public void releasePages() {
        base.releasePages();
    }

    @Override
    public void close() {
        base.close();
    }
}
