package dev.lowbit.io.quant;

import static org.junit.jupiter.api.Assertions.*;

import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.io.quant.QuantScheme.Granularity;
import dev.lowbit.io.quant.QuantScheme.ScaleType;
import dev.lowbit.io.quant.QuantScheme.ZeroPoint;
import dev.lowbit.io.quant.QuantizedTensor.Plane;
import dev.lowbit.io.quant.QuantizedTensor.SubBlocks;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class QuantizedTensorTest {
    static final QuantScheme TRITS2 = new QuantScheme(ElementType.TERNARY, 2, 2, ScaleType.F16, Granularity.CHANNEL,
            ZeroPoint.NONE, 2, List.of());

    @Test
    void theSinglePlaneFormKeepsItsAccessorsAndItsArithmetic() {
        Random r = new Random(7);
        QuantScheme s = new QuantScheme(3, 4, false);
        int rows = 5, cols = 11;
        byte[] codes = new byte[rows * cols];
        for (int i = 0; i < codes.length; i++) codes[i] = (byte) r.nextInt(8);
        int[] gIdx = QuantizedTensor.sequentialGroups(cols, s);
        int groups = 3;
        float[] scales = new float[rows * groups];
        int[] zeros = new int[rows * groups];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = (float) r.nextGaussian();
            zeros[i] = r.nextInt(8);
        }
        QuantizedTensor q = new QuantizedTensor("w", rows, cols, s, codes, scales, zeros, gIdx);
        assertSame(codes, q.codes());
        assertSame(scales, q.scales());
        assertSame(zeros, q.zeros());
        assertEquals(1, q.planes().size());
        assertEquals(1f, q.globalScale());
        assertEquals(groups, q.groups());
        float[] w = q.dequantize();
        for (int row = 0; row < rows; row++) {
            for (int c = 0; c < cols; c++) {
                int i = row * groups + c / 4;
                float want = scales[i] * ((codes[row * cols + c] & 0xFF) - zeros[i]);
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(w[row * cols + c]));
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(q.dequantize(row, c)));
            }
        }
    }

    @Test
    void twoTernaryPlanesDequantizeToTheSumOfScaledTritMatrices() {
        // W ≈ α₁·T₁ + α₂·T₂ with T ∈ {−1, 0, +1} stored as t + 1, one α per row and plane
        int rows = 2, cols = 3;
        int[][] t1 = {{1, 0, -1}, {-1, -1, 1}};
        int[][] t2 = {{0, 1, 1}, {1, 0, -1}};
        float[] a1 = {0.5f, 2f}, a2 = {0.125f, -0.25f};
        QuantizedTensor q = new QuantizedTensor("trits", rows, cols, TRITS2,
                List.of(plane(t1, a1), plane(t2, a2)), new int[cols], 1f);
        float[] w = q.dequantize();
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) assertEquals(a1[r] * t1[r][c] + a2[r] * t2[r][c], w[r * cols + c], 0f, r + "," + c);
        }
        assertArrayEquals(new float[] {0.5f, 0.125f, -0.375f, -2.25f, -2f, 2.25f}, w, 0f);
        // a global scale multiplies the sum
        QuantizedTensor g = new QuantizedTensor("trits", rows, cols, TRITS2, q.planes(), q.gIdx(), 4f);
        for (int i = 0; i < w.length; i++) assertEquals(4f * w[i], g.dequantize()[i], 0f);
    }

    @Test
    void fp4CodesWithBlockScalesAndAGlobalScaleDequantizeLikeNvfp4() {
        QuantScheme nvfp4 = new QuantScheme(ElementType.E2M1, 4, 4, ScaleType.E4M3, Granularity.group(2), ZeroPoint.NONE, 1, List.of());
        // codes: +6, −0.5, +1.5, −6 ; block scales 2 and 0.5 ; global 1/4
        byte[] codes = {7, 9, 3, 15};
        QuantizedTensor q = new QuantizedTensor("fp4", 1, 4, nvfp4, List.of(new Plane(codes, new float[] {2f, 0.5f}, null, null, null)),
                new int[] {0, 0, 1, 1}, 0.25f);
        assertArrayEquals(new float[] {3f, -0.25f, 0.1875f, -0.75f}, q.dequantize(), 0f);
    }

    @Test
    void subBlockScalesAndMinsActUnderTheirSuperBlock() {
        QuantScheme k = new QuantScheme(ElementType.INT, 4, 4, ScaleType.F16, Granularity.superBlock(4, 2, 6), ZeroPoint.MIN, 1, List.of());
        byte[] codes = {1, 2, 3, 4};
        // ŵ = d·sc·q − dmin·m with d = 0.5, dmin = 0.25, (sc, m) = (2, 1) and (4, 3)
        Plane p = new Plane(codes, new float[] {0.5f}, null, new float[] {0.25f}, new SubBlocks(2, new int[] {2, 4}, new int[] {1, 3}));
        QuantizedTensor q = new QuantizedTensor("k", 1, 4, k, List.of(p), new int[4], 1f);
        assertArrayEquals(new float[] {1f - 0.25f, 2f - 0.25f, 6f - 0.75f, 8f - 0.75f}, q.dequantize(), 0f);
    }

    @Test
    void nonUniformCodesReadTheirLevels() {
        List<Float> levels = List.of(-3f, -1f, 1f, 3f);
        QuantScheme nl = new QuantScheme(ElementType.INT, 2, 2, ScaleType.F16, Granularity.group(2), ZeroPoint.NONE, 1, levels);
        QuantizedTensor q = new QuantizedTensor("nl", 1, 2, nl, List.of(new Plane(new byte[] {0, 3}, new float[] {0.5f}, null, null, null)),
                new int[2], 1f);
        assertArrayEquals(new float[] {-1.5f, 1.5f}, q.dequantize(), 0f);
    }

    @Test
    void hostileShapesAreRefused() {
        QuantScheme s = new QuantScheme(4, 2, true);
        byte[] c4 = new byte[4];
        float[] sc2 = {1f, 1f};
        int[] z2 = {8, 8};
        int[] g = {0, 0, 1, 1};
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", -1, -4, s, c4, sc2, z2, new int[0]));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1, 4, s, new byte[3], sc2, z2, g));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1, 4, s, c4, sc2, z2, new int[] {0, 0, 1}));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1, 4, s, c4, sc2, z2, new int[] {0, -1, 1, 1}));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1, 4, s, c4, new float[3], z2, g));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1, 4, s, c4, sc2, new int[1], g));
        assertThrows(NullPointerException.class, () -> new QuantizedTensor("w", 1, 4, s, c4, sc2, null, g));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1 << 16, 1 << 16, s, c4, sc2, z2, g),
                "rows × cols beyond one array");
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1, 4, s, List.of(), g, 1f));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1, 4, s,
                List.of(Plane.of(c4, sc2, z2), Plane.of(c4, sc2, z2)), g, 1f), "two planes for a one-plane scheme");
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1, 4, s, List.of(Plane.of(c4, sc2, z2)), g, Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1, 4, s,
                List.of(new Plane(c4, sc2, z2, null, new SubBlocks(3, new int[1], null))), g, 1f), "sub-blocks must tile the row");
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1, 4, s,
                List.of(new Plane(c4, sc2, z2, null, new SubBlocks(2, new int[3], null))), g, 1f));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("w", 1, 4, s,
                List.of(new Plane(c4, sc2, z2, null, new SubBlocks(2, new int[2], new int[2]))), g, 1f), "sub-block mins without mins");
        assertThrows(IllegalArgumentException.class, () -> new SubBlocks(0, new int[0], null));
        // ternary codes take no integer zero points, and a code outside {0, 1, 2} is no trit
        assertThrows(IllegalArgumentException.class, () -> new QuantizedTensor("t", 1, 3, TRITS2,
                List.of(Plane.of(new byte[3], new float[1], new int[1]), Plane.of(new byte[3], new float[1], new int[1])), new int[3], 1f));
        QuantizedTensor bad = new QuantizedTensor("t", 1, 3, TRITS2,
                List.of(new Plane(new byte[] {0, 3, 1}, new float[1], null, null, null), new Plane(new byte[3], new float[1], null, null, null)),
                new int[3], 1f);
        assertThrows(IllegalStateException.class, bad::dequantize);
    }

    /** A ternary plane of trits {@code t} (one row each) with one scale per row. */
    private static Plane plane(int[][] t, float[] alpha) {
        int cols = t[0].length;
        byte[] codes = new byte[t.length * cols];
        for (int r = 0; r < t.length; r++) for (int c = 0; c < cols; c++) codes[r * cols + c] = (byte) (t[r][c] + 1);
        return new Plane(codes, alpha.clone(), null, null, null);
    }
}
