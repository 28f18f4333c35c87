package dev.lowbit.calib.observe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import dev.lowbit.ptq.observe.HessianObserver;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * GPTQ's Hessian per module ({@link HessianObserver}), with each batch's Xᵀ·X formed on the engine (f32 GEMMs in
 * PyTorch) and added into the observer's f64 sum straight from the engine's buffer ({@link HessianObserver#addGramRows}:
 * no heap copy). A wide input's product is formed a band of rows at a time, {@link #MAX_PRODUCT_FLOATS} values at
 * most: at a 7B model's down_proj (11008 features) the whole product would be 0.48 GB of native memory per batch, a
 * band of 1524 rows is 64 MiB. Inputs up to 4096 features take one product, as before. Heap inputs
 * ({@link #observe(String, float[], int, int)}) go through the observer's own SYRK.
 */
public class EngineHessians extends ModuleObservers<HessianObserver> implements NDArrayObserver {
    /** The most f32 values one Xᵀ·X product (or band of it) may have: 2²⁴ (64 MiB). */
    public static final int MAX_PRODUCT_FLOATS = 1 << 24;

    private final int maxProductFloats;

    public EngineHessians() {
        this(MAX_PRODUCT_FLOATS);
    }

    /** With products of at most {@code maxProductFloats} values (tests use small bounds to exercise the bands). */
    EngineHessians(int maxProductFloats) {
        super(HessianObserver::new);
        if (maxProductFloats < 1) throw new IllegalArgumentException("EngineHessians: product bound " + maxProductFloats);
        this.maxProductFloats = maxProductFloats;
    }

    @Override
    public void observe(String module, NDArray x) {
        int rows = Math.toIntExact(x.getShape().get(0));
        int cols = Math.toIntExact(x.getShape().get(1));
        HessianObserver h = observerFor(module, cols);
        int band = Math.max(1, maxProductFloats / cols);
        if (band >= cols) {
            try (NDArray xtx = x.transpose().matMul(x)) {
                h.addGramRows(segment(xtx), 0, cols);
            }
        } else {
            for (int from = 0; from < cols; from += band) {
                int to = Math.min(cols, from + band);
                try (NDArray part = x.get(new NDIndex(":, {}:{}", from, to)); NDArray xtx = part.transpose().matMul(x)) {
                    h.addGramRows(segment(xtx), from, to - from);
                }
            }
        }
        h.addTokens(rows);
    }

    /** The array's own memory (contiguous f32 on the CPU), valid while the array is open. */
    private static MemorySegment segment(NDArray a) {
        return MemorySegment.ofBuffer(a.toByteBuffer(true).order(ByteOrder.nativeOrder()));
    }
}
