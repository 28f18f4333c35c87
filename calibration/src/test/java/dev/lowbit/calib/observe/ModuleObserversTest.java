package dev.lowbit.calib.observe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lowbit.calib.model.DjlEngine;
import dev.lowbit.ptq.observe.HessianObserver;
import dev.lowbit.ptq.observe.MeanSquareObserver;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The adapter from capture hooks to ptq-algorithms' observers: one observer per module, engine arrays to Gram matrices. */
class ModuleObserversTest {
    @Test
    void oneObserverPerModuleWithItsOwnWidth() {
        ModuleObservers<MeanSquareObserver> ms = new ModuleObservers<>(MeanSquareObserver::new);
        ms.observe("a", new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        ms.observe("b", new float[] {2, 2}, 1, 2);
        ms.observe("a", new float[] {-1, 0, 2}, 1, 3);
        assertEquals(Set.of("a", "b"), ms.modules());
        assertArrayEquals(new double[] {18 / 3.0, 29 / 3.0, 49 / 3.0}, ms.get("a").meanSquare(), 1e-15);
        assertEquals(1, ms.get("b").tokens());
        assertThrows(IllegalArgumentException.class, () -> ms.observe("a", new float[4], 2, 2));
        assertThrows(IllegalArgumentException.class, () -> ms.get("c"));
        ms.clear("a");
        assertEquals(Set.of("b"), ms.modules());
    }

    /** The engine path (one f32 GEMM in PyTorch) equals the observer's own SYRK up to f32 summation order. */
    @Test
    void engineGramMatchesTheObserversOwnProduct() {
        Random rnd = new Random(11);
        int rows = 53, cols = 70;
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        EngineHessians heap = new EngineHessians();
        EngineHessians engine = new EngineHessians();
        heap.observe("m", x, rows, cols);
        try (NDManager nd = DjlEngine.newManager(1)) {
            engine.observe("m", nd.create(x, new Shape(rows, cols)));
            assertThrows(IllegalArgumentException.class, () -> engine.observe("m", nd.create(new float[6], new Shape(2, 3))));
        }
        HessianObserver a = heap.get("m"), b = engine.get("m");
        double[] sa = a.sum(), sb = b.sum();
        // |entries| ≲ rows; f32 sums of 53 products differ by ≲ 53·2⁻²⁴·|x|² per term order: 1e-4 abs is generous
        for (int i = 0; i < sa.length; i++) assertEquals(sa[i], sb[i], 1e-4 + 1e-5 * Math.abs(sa[i]));
        assertEquals(rows, a.tokens());
        assertEquals(rows, b.tokens());
    }
}
