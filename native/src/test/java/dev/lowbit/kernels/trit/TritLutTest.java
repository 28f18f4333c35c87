package dev.lowbit.kernels.trit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The LUT GEMV against W·x computed here from the definition W[r,c] = Σₚ αₚ[r, c/g]·(qₚ[r,c] − 1), on awkward sizes. */
class TritLutTest {
    private record Case(int planes, int rows, int cols, int group) {}

    private static final List<Case> CASES = List.of(
            new Case(1, 1, 1, 1), new Case(2, 3, 5, 5), new Case(2, 207, 702, 702), new Case(2, 207, 700, 28),
            new Case(3, 17, 64, 4), new Case(2, 33, 512, 128), new Case(1, 16, 256, 256), new Case(2, 48, 1536, 128));

    private static List<TritLut> kernels() {
        List<TritLut> k = new ArrayList<>(List.of(TritLut.scalar()));
        try {
            k.add(TritLut.vector());
        } catch (UnsupportedOperationException e) {
            // only where there are no 512-bit vectors: there the scalar path is what runs
            if (jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512) throw e;
        }
        return k;
    }

    @Test
    void vectorTablesAreTheScalarTablesBitForBit() {
        try {
            TritLut.vector();
        } catch (UnsupportedOperationException e) {
            org.junit.jupiter.api.Assumptions.abort("no 512-bit Vector API here: " + e.getMessage());
        }
        Random rnd = new Random(11);
        for (int cols : new int[] {1, 2, 3, 5, 128, 207, 702}) {
            float[] x = new float[cols + 3];
            for (int i = 0; i < x.length; i++) x[i] = i % 7 == 0 ? (i % 2 == 0 ? 0f : -0f) : (float) rnd.nextGaussian();
            float[] lut = new float[TritLut.tableLength(cols)];
            TritLut.buildTables(x, 3, cols, lut);
            int[] bits = VectorTritLut.tables(x, 3, cols);
            assertEquals(lut.length, bits.length);
            for (int i = 0; i < lut.length; i++) {
                assertEquals(Float.floatToRawIntBits(lut[i]), bits[i], "cols " + cols + " entry " + i);
            }
        }
    }

    @Test
    void gemvEqualsTheDequantizedProductWithinFloatRounding() {
        for (Case cs : CASES) {
            Random rnd = new Random(cs.rows * 1000L + cs.cols);
            int groups = cs.cols / cs.group;
            byte[][] codes = new byte[cs.planes][cs.rows * cs.cols];
            float[][] scales = new float[cs.planes][cs.rows * groups];
            for (int p = 0; p < cs.planes; p++) {
                for (int i = 0; i < codes[p].length; i++) codes[p][i] = (byte) rnd.nextInt(3);
                for (int i = 0; i < scales[p].length; i++) scales[p][i] = (float) rnd.nextGaussian() * 0.05f;
            }
            float[] x = new float[cs.cols * 2];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            TritMatrix m = TritMatrix.of(cs.rows, cs.cols, cs.group, codes, scales);
            float[] yScalar = null;
            for (TritLut k : kernels()) {
                float[] y = new float[cs.rows * 2];
                k.gemm(m, x, 2, y);
                for (int t = 0; t < 2; t++) {
                    for (int r = 0; r < cs.rows; r++) {
                        double exact = 0, magnitude = 0;
                        for (int c = 0; c < cs.cols; c++) {
                            double wrc = 0;
                            for (int p = 0; p < cs.planes; p++) wrc += scales[p][r * groups + c / cs.group] * (codes[p][r * cs.cols + c] - 1);
                            exact += wrc * x[t * cs.cols + c];
                            magnitude += Math.abs(wrc * x[t * cs.cols + c]);
                        }
                        // f32 summation of cols terms: error ≤ cols·2⁻²⁴·Σ|terms| (a loose worst case; typical is √cols)
                        double tol = cs.cols * 0x1p-24 * magnitude + 1e-30;
                        assertEquals(exact, y[t * cs.rows + r], tol, k.name() + " " + cs + " token " + t + " row " + r);
                    }
                }
                if (yScalar == null) yScalar = y;
                else assertEquals(java.util.Arrays.toString(yScalar), java.util.Arrays.toString(y), "vector and scalar sum in the same order");
            }
            // the layout's own dequantization is the definition too
            float[] w = m.dequantize();
            for (int r = 0; r < cs.rows; r++) {
                for (int c = 0; c < cs.cols; c++) {
                    float e = 0;
                    for (int p = 0; p < cs.planes; p++) e += scales[p][r * groups + c / cs.group] * (codes[p][r * cs.cols + c] - 1);
                    assertEquals(e, w[r * cs.cols + c], 0f);
                }
                float[] row = new float[cs.cols];
                m.dequantizeRow(r, row);
                for (int c = 0; c < cs.cols; c++) assertEquals(w[r * cs.cols + c], row[c], 0f, "dequantizeRow " + cs + " row " + r);
            }
        }
    }

    @Test
    void layoutRefusesWhatItCannotHold() {
        assertThrows(IllegalArgumentException.class, () -> TritMatrix.of(2, 12, 6, new byte[][] {new byte[24]}, new float[][] {new float[4]}));
        assertThrows(IllegalArgumentException.class, () -> TritMatrix.of(2, 10, 4, new byte[][] {new byte[20]}, new float[][] {new float[4]}));
        byte[] bad = new byte[8];
        bad[3] = 3;
        assertThrows(IllegalArgumentException.class, () -> TritMatrix.of(2, 4, 4, new byte[][] {bad}, new float[][] {new float[2]}));
    }
}
