package dev.lowbit.calib.observe;

import dev.lowbit.ptq.observe.ActivationObserver;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * One {@link ActivationObserver} of ptq-algorithms per module, made on the module's first batch by {@code factory}
 * (given in_features): the adapter between the capture hooks, which see many Linears, and the observers, which each
 * see one. The statistics themselves live in {@code dev.lowbit.ptq.observe}.
 */
public class ModuleObservers<O extends ActivationObserver> implements LinearObserver {
    private final Map<String, O> observers = new LinkedHashMap<>();
    private final IntFunction<O> factory;

    public ModuleObservers(IntFunction<O> factory) {
        this.factory = factory;
    }

    @Override
    public void observe(String module, float[] x, int rows, int cols) {
        observerFor(module, cols).add(x, rows, cols);
    }

    /** The module's observer, made with {@code cols} features if it has none yet (a different width is refused). */
    protected final synchronized O observerFor(String module, int cols) {
        O o = observers.computeIfAbsent(module, m -> factory.apply(cols));
        if (o.columns() != cols) throw new IllegalArgumentException(module + ": width " + cols + " after " + o.columns());
        return o;
    }

    /** The observer of {@code module}. */
    public synchronized O get(String module) {
        O o = observers.get(module);
        if (o == null) throw new IllegalArgumentException("no activations observed for " + module);
        return o;
    }

    public synchronized Set<String> modules() {
        return Set.copyOf(observers.keySet());
    }

    /** Forgets {@code module} (frees its memory once the layer is quantized). */
    public synchronized void clear(String module) {
        observers.remove(module);
    }
}
