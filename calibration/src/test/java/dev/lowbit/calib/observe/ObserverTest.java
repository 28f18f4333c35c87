package dev.lowbit.calib.observe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

class ObserverTest {
    @Test
    void hessianIsSumOfOuterProductsAcrossBatches() {
        HessianObserver h = new HessianObserver();
        h.observe("m", new float[] {1, 2, 3, 4, 5, 6}, 2, 3);   // rows (1,2,3), (4,5,6)
        h.observe("m", new float[] {-1, 0, 2}, 1, 3);
        // Σ x xᵀ = [[1+16+1, 2+20+0, 3+24-2], [.., 4+25+0, 6+30+0], [.., .., 9+36+4]]
        assertArrayEquals(new double[] {18, 22, 25, 22, 29, 36, 25, 36, 49}, h.hessian("m"), 0);
        assertEquals(3, h.samples("m"));
    }

    @Test
    void diagonalMatchesMeanSquareAndMaxAbsBoundsIt() {
        Random rnd = new Random(7);
        int rows = 37, cols = 207;   // awkward sizes
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        HessianObserver h = new HessianObserver();
        MeanSquareObserver ms = new MeanSquareObserver();
        MaxAbsObserver mx = new MaxAbsObserver();
        for (LinearObserver o : new LinearObserver[] {h, ms, mx}) o.observe("m", x, rows, cols);
        double[] mean = ms.meanSquare("m");
        float[] max = mx.maxAbs("m");
        double[] hs = h.hessian("m");
        for (int c = 0; c < cols; c++) {
            assertEquals(mean[c] * rows, hs[c * cols + c], 1e-4 * hs[c * cols + c]);
            assertEquals(true, max[c] * max[c] >= mean[c]);
            for (int j = 0; j < cols; j++) assertEquals(hs[c * cols + j], hs[j * cols + c]);
        }
    }

    /** The engine path (one f32 GEMM) equals the scalar reference up to f32 summation order. */
    @Test
    void engineHessianMatchesScalarReference() {
        Random rnd = new Random(11);
        int rows = 53, cols = 70;
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        HessianObserver scalar = new HessianObserver();
        HessianObserver engine = new HessianObserver();
        scalar.observe("m", x, rows, cols);
        try (ai.djl.ndarray.NDManager nd = dev.lowbit.calib.model.DjlEngine.newManager(1)) {
            engine.observe("m", nd.create(x, new ai.djl.ndarray.types.Shape(rows, cols)));
        }
        double[] a = scalar.hessian("m");
        double[] b = engine.hessian("m");
        // |entries| ≲ rows; f32 sums of 53 products differ by ≲ 53·2⁻²⁴·|x|² per term order: 1e-4 abs is generous
        for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-4 + 1e-5 * Math.abs(a[i]));
        assertEquals(scalar.samples("m"), engine.samples("m"));
    }

    @Test
    void rejectsMismatchedShapes() {
        HessianObserver h = new HessianObserver();
        assertThrows(IllegalArgumentException.class, () -> h.observe("m", new float[5], 2, 3));
        h.observe("m", new float[6], 2, 3);
        assertThrows(IllegalArgumentException.class, () -> h.observe("m", new float[4], 2, 2));
    }
}
