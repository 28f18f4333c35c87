package dev.lowbit.calib.observe;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.model.Architecture;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearHook;
import dev.lowbit.calib.model.LinearInput;
import java.util.List;
import java.util.Set;

/**
 * A {@link LinearHook} that hands the selected Linear inputs to observers: as the engine array to those that
 * implement {@link NDArrayObserver}, else copied to the heap once per input.
 * Linears that share an input are observed once, under the name of the first reader
 * ({@link #key}: q_proj for q/k/v, gate_proj for gate/up).
 */
public final class ObservingHook implements LinearHook {
    private final Architecture arch;
    private final Set<LinearInput> inputs;
    private final List<LinearObserver> observers;

    public ObservingHook(Architecture arch, Set<LinearInput> inputs, List<LinearObserver> observers) {
        this.arch = arch;
        this.inputs = inputs;
        this.observers = observers;
    }

    /** The module name under which observers see the input of {@code linear} in {@code layer}. */
    public static String key(Architecture arch, int layer, Linear linear) {
        return arch.linearName(layer, linear.input().readers().getFirst());
    }

    /** Every observer accumulates over rows (sums, maxima, Gram matrices): chunks of rows add up to the batch. */
    @Override
    public boolean acceptsRowChunks() {
        return true;
    }

    @Override
    public void onInput(int layer, LinearInput input, NDArray x) {
        if (!inputs.contains(input)) return;
        int rows = Math.toIntExact(x.getShape().get(0));
        int cols = Math.toIntExact(x.getShape().get(1));
        String module = key(arch, layer, input.readers().getFirst());
        float[] values = null;
        for (LinearObserver o : observers) {
            if (o instanceof NDArrayObserver fast) {
                fast.observe(module, x);
            } else {
                if (values == null) values = x.toFloatArray();
                o.observe(module, values, rows, cols);
            }
        }
    }
}
