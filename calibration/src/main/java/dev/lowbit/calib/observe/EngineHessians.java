package dev.lowbit.calib.observe;

import ai.djl.ndarray.NDArray;
import dev.lowbit.ptq.observe.HessianObserver;

/**
 * GPTQ's Hessian per module ({@link HessianObserver}), with each batch's Xᵀ·X formed on the engine: one f32 GEMM in
 * PyTorch, handed to {@link HessianObserver#addGram}. Heap inputs ({@link #observe(String, float[], int, int)}) go
 * through the observer's own SYRK.
 */
public class EngineHessians extends ModuleObservers<HessianObserver> implements NDArrayObserver {
    public EngineHessians() {
        super(HessianObserver::new);
    }

    @Override
    public void observe(String module, NDArray x) {
        int rows = Math.toIntExact(x.getShape().get(0));
        int cols = Math.toIntExact(x.getShape().get(1));
        HessianObserver h = observerFor(module, cols);
        try (NDArray xtx = x.transpose().matMul(x)) {
            h.addGram(xtx.toFloatArray(), rows);
        }
    }
}
