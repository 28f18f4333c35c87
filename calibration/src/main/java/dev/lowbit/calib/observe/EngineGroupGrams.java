package dev.lowbit.calib.observe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import dev.lowbit.ptq.observe.GroupGramObserver;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The diagonal group blocks of Σ x·xᵀ per module ({@link GroupGramObserver}) with the products formed on the engine
 * (f32 GEMMs in PyTorch) and read from its buffer. An input of at most {@link EngineHessians#MAX_PRODUCT_FLOATS}
 * squared values takes the whole Xᵀ·X as {@link EngineHessians} forms it, so its blocks are bit for bit the same
 * entries of the full Hessian (tiny-llama-code's inputs, ≤ 1536 features). A wider one forms each group's own
 * X_gᵀ·X_g: at a 7B model's down_proj (11008 features, groups of 128) that is 1/86 of the full product's work and
 * 64 KiB of native memory instead of 0.48 GB.
 */
public final class EngineGroupGrams extends ModuleObservers<GroupGramObserver> implements NDArrayObserver {
    private final int maxProductFloats;

    /** Observers over groups of {@code group} channels (≤ 0: the whole input). */
    public EngineGroupGrams(int group) {
        this(group, EngineHessians.MAX_PRODUCT_FLOATS);
    }

    /** With whole products only up to {@code maxProductFloats} values (tests use small bounds for the per-group path). */
    EngineGroupGrams(int group, int maxProductFloats) {
        super(cols -> new GroupGramObserver(cols, group));
        if (maxProductFloats < 1) throw new IllegalArgumentException("EngineGroupGrams: product bound " + maxProductFloats);
        this.maxProductFloats = maxProductFloats;
    }

    @Override
    public void observe(String module, NDArray x) {
        int rows = Math.toIntExact(x.getShape().get(0));
        int cols = Math.toIntExact(x.getShape().get(1));
        GroupGramObserver o = observerFor(module, cols);
        if ((long) cols * cols <= maxProductFloats) {
            try (NDArray xtx = x.transpose().matMul(x)) {
                o.addProduct(segment(xtx), 0, cols, 0, cols);
            }
        } else {
            int g = o.group();
            for (int from = 0; from < cols; from += g) {
                int to = Math.min(cols, from + g);
                try (NDArray part = x.get(new NDIndex(":, {}:{}", from, to)); NDArray xtx = part.transpose().matMul(part)) {
                    o.addProduct(segment(xtx), from, to - from, from, to - from);
                }
            }
        }
        o.addTokens(rows);
    }

    /** The array's own memory (contiguous f32 on the CPU), valid while the array is open. */
    private static MemorySegment segment(NDArray a) {
        return MemorySegment.ofBuffer(a.toByteBuffer(true).order(ByteOrder.nativeOrder()));
    }
}
