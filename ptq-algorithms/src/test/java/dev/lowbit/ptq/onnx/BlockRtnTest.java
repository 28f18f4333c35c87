package dev.lowbit.ptq.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.QuantizedTensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** MLAS's block quantization for MatMulNBits, checked against its definition and its error bound. */
class BlockRtnTest {
    @Test
    void asymmetricScaleAndZeroPointAsMlas() {
        // one row, one block of 16: min −1, max 2 → scale 3/15 = 0.2, zp = roundf(1/0.2) = 5
        float[] w = new float[16];
        w[0] = -1;
        w[1] = 2;
        w[2] = 0.1f; // 0.1/0.2 + 5 = 5.5 → roundf half away from zero = 6
        QuantizedTensor q = BlockRtn.quantize("w", w, 1, 16, 4, 16, false);
        assertEquals(0.2f, q.scales()[0], 1e-7f);
        assertEquals(5, q.zeros()[0]);
        assertEquals(0, q.code(0, 0));
        assertEquals(15, q.code(0, 1));
        assertEquals(6, q.code(0, 2));
        assertEquals(5, q.code(0, 3)); // zero is exact
    }

    @Test
    void symmetricScaleIsTheSignedLargestOverMinusEight() {
        float[] w = new float[32];
        w[5] = 3.2f;
        w[6] = -1;
        QuantizedTensor q = BlockRtn.quantize("w", w, 1, 32, 4, 32, true);
        assertEquals(-0.4f, q.scales()[0], 1e-7f);
        assertEquals(8, q.zeros()[0]);
        assertEquals(0, q.code(0, 5)); // 3.2/−0.4 + 8 = 0
        assertEquals(11, q.code(0, 6)); // −1/−0.4 + 8 = 10.5 → 11 (half away from zero)
    }

    @Test
    void errorIsAtMostHalfAStepOnRandomWeightsWithAPartialLastBlock() {
        Random rnd = new Random(3);
        int rows = 7, cols = 207; // 207 = 6 blocks of 32 + a partial 15
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        for (int bits : new int[]{4, 8}) {
            QuantizedTensor q = BlockRtn.quantize("w", w, rows, cols, bits, 32, false);
            float[] d = q.dequantize();
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    float s = q.scales()[r * 7 + c / 32];
                    // half a step, plus f32 rounding of w·(1/s)
                    assertTrue(Math.abs(d[r * cols + c] - w[r * cols + c]) <= s * 0.5f * (1 + 1e-5f) + 1e-6f, "r " + r + " c " + c);
                }
            }
        }
    }
}
