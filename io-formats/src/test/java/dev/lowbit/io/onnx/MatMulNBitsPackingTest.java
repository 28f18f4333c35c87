package dev.lowbit.io.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The MatMulNBits byte layout (FORMATS.md "ONNX / ONNX Runtime"), unpacked here independently of the packer. */
class MatMulNBitsPackingTest {
    static QuantizedTensor random(int n, int k, int bits, int block, long seed) {
        Random rnd = new Random(seed);
        int blocks = Math.ceilDiv(k, block);
        byte[] codes = new byte[n * k];
        for (int i = 0; i < codes.length; i++) codes[i] = (byte) rnd.nextInt(1 << bits);
        float[] scales = new float[n * blocks];
        int[] zeros = new int[n * blocks];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = rnd.nextFloat() + 0.01f;
            zeros[i] = rnd.nextInt(1 << bits);
        }
        int[] g = new int[k];
        for (int c = 0; c < k; c++) g[c] = c / block;
        return new QuantizedTensor("w", n, k, new QuantScheme(bits, block, false), codes, scales, zeros, g);
    }

    @Test
    void fourBitLayoutLowNibbleFirstPaddedLastBlockPackedZeroPoints() {
        int n = 3, k = 75, block = 32; // 3 blocks, the last holding 11 elements
        QuantizedTensor q = random(n, k, 4, block, 1);
        MatMulNBitsPacking p = MatMulNBitsPacking.pack(q, 4, block);
        assertArrayEquals(new long[]{3, 3, 16}, p.bDims());
        assertArrayEquals(new long[]{3, 3}, p.scaleDims());
        assertArrayEquals(new long[]{3, 2}, p.zeroDims()); // ceil(3·4/8) = 2 bytes per row
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < 96; c++) {
                int b = p.b()[(r * 3 + c / 32) * 16 + (c % 32) / 2] & 0xff;
                int code = (c % 2 == 0) ? b & 15 : b >>> 4;
                assertEquals(c < k ? q.code(r, c) : 0, code, "r " + r + " c " + c);
            }
            for (int g = 0; g < 3; g++) {
                int z = p.zeroPoints()[r * 2 + g / 2] & 0xff;
                assertEquals(q.zeros()[r * 3 + g], g % 2 == 0 ? z & 15 : z >>> 4);
                assertEquals(q.scales()[r * 3 + g], p.scales()[r * 3 + g]);
            }
            assertEquals(0, (p.zeroPoints()[r * 2 + 1] & 0xff) >>> 4, "row padding");
        }
    }

    @Test
    void eightBitLayoutOneCodePerByte() {
        QuantizedTensor q = random(2, 64, 8, 16, 2);
        MatMulNBitsPacking p = MatMulNBitsPacking.pack(q, 8, 16);
        assertArrayEquals(new long[]{2, 4, 16}, p.bDims());
        for (int r = 0; r < 2; r++) {
            for (int c = 0; c < 64; c++) assertEquals(q.code(r, c), p.b()[(r * 4 + c / 16) * 16 + c % 16] & 0xff);
            for (int g = 0; g < 4; g++) assertEquals(q.zeros()[r * 4 + g], p.zeroPoints()[r * 4 + g] & 0xff);
        }
    }

    @Test
    void refusesWhatMatMulNBitsCannotHold() {
        assertThrows(IllegalArgumentException.class, () -> MatMulNBitsPacking.pack(random(1, 32, 4, 32, 3), 3, 32));
        assertThrows(IllegalArgumentException.class, () -> MatMulNBitsPacking.pack(random(1, 48, 4, 24, 3), 4, 24));
        assertThrows(IllegalArgumentException.class, () -> MatMulNBitsPacking.pack(random(1, 64, 4, 32, 3), 4, 16)); // groups ≠ block
    }
}
