package dev.lowbit.calib.observe;

import ai.djl.ndarray.NDArray;
import dev.lowbit.ptq.observe.MeanAbsObserver;

/**
 * AWQ's mean |x| per module ({@link MeanAbsObserver}), with each batch's column sums Σ_rows |x| formed on the engine
 * (f32, as llm-awq sums) and handed over as {@code cols} numbers instead of copying the {@code rows × cols} input to
 * the heap. Heap inputs ({@link #observe(String, float[], int, int)}) go through the observer itself.
 */
public final class EngineMeanAbs extends ModuleObservers<MeanAbsObserver> implements NDArrayObserver {
    public EngineMeanAbs() {
        super(MeanAbsObserver::new);
    }

    @Override
    public void observe(String module, NDArray x) {
        int rows = Math.toIntExact(x.getShape().get(0));
        int cols = Math.toIntExact(x.getShape().get(1));
        try (NDArray abs = x.abs(); NDArray sums = abs.sum(new int[] {0})) {
            observerFor(module, cols).addSums(sums.toFloatArray(), rows);
        }
    }
}
