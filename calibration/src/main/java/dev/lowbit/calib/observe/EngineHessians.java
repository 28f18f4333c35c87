package dev.lowbit.calib.observe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import dev.lowbit.ptq.observe.HessianObserver;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * GPTQ's Hessian per module ({@link HessianObserver}), with each batch's Xᵀ·X formed on the engine (f32 GEMMs in
 * PyTorch) and added into the observer's f64 sum straight from the engine's buffer (no heap copy). Inputs up to
 * {@link #BAND_ROWS} features take one product ({@link HessianObserver#addGramRows}); a wider one is formed a band of
 * rows at a time, each band only from its diagonal on (the rows' inputs times the inputs from the band's first column
 * on, {@link HessianObserver#addGramUpper}): about half the products of the whole (tiny-llama-code's down_proj, 1536
 * features: 3 bands, 2/3 of the products; a 7B model's 4096: 8 bands, 56 %), and at most {@link #MAX_PRODUCT_FLOATS}
 * values of native memory per band (a 7B down_proj's whole product would be 0.48 GB per batch). Each entry is the f32
 * dot product of the same two columns as in the whole product, summed in the order MKL picks for the band's shape:
 * bit-identical at the shapes measured (4096 × 512 and × 1536 inputs; tiny-llama-code's GPTQ output, job seq-ident2),
 * one rounding step apart on a 5-row tail band (GroupGramAgreementTest). Heap inputs
 * ({@link #observe(String, float[], int, int)}) go through the observer's own SYRK.
 */
public class EngineHessians extends ModuleObservers<HessianObserver> implements NDArrayObserver {
    /** The most f32 values one Xᵀ·X product (or band of it) may have: 2²⁴ (64 MiB). */
    public static final int MAX_PRODUCT_FLOATS = 1 << 24;

    /** Rows per band of a wide input's product: 512 (fewer only where {@link #MAX_PRODUCT_FLOATS} asks). */
    public static final int BAND_ROWS = 512;

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
        int band = Math.max(1, Math.min(BAND_ROWS, maxProductFloats / cols));
        if (band >= cols) {
            try (NDArray xtx = x.transpose().matMul(x)) {
                h.addGramRows(segment(xtx), 0, cols);
            }
        } else {
            for (int from = 0; from < cols; from += band) {
                int to = Math.min(cols, from + band);
                try (NDArray block = x.get(new NDIndex(":, {}:{}", from, to));
                     NDArray right = from == 0 ? null : x.get(new NDIndex(":, {}:", from));
                     NDArray xtx = block.transpose().matMul(right == null ? x : right)) {
                    h.addGramUpper(segment(xtx), from, to - from);
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
