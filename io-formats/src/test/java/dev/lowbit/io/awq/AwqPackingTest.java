package dev.lowbit.io.awq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.gptq.GptqPacking;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AwqPackingTest {
    static QuantizedTensor random(int rows, int cols, int group, boolean sym, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        QuantScheme scheme = new QuantScheme(4, group, sym);
        int groups = scheme.groupCount(cols);
        byte[] codes = new byte[rows * cols];
        for (int i = 0; i < codes.length; i++) codes[i] = (byte) rnd.nextInt(16);
        float[] scales = new float[rows * groups];
        int[] zeros = new int[rows * groups];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = Float.float16ToFloat(Float.floatToFloat16((float) rnd.nextDouble(1e-4, 0.5)));
            zeros[i] = sym ? 8 : 1 + rnd.nextInt(15);
        }
        return new QuantizedTensor("w", rows, cols, scheme, codes, scales, zeros, QuantizedTensor.sequentialGroups(cols, scheme));
    }

    /** The spec's layout decoded independently of the codec: nibble i of word (k, c) is column 8c + [0,2,4,6,1,3,5,7][i]. */
    @Test
    void layoutMatchesTheSpecAndRoundTrips() {
        int n = 24, k = 64, g = 32;
        QuantizedTensor q = random(n, k, g, false, 7);
        AwqTensors t = AwqPacking.pack(q);
        assertArrayEquals(new long[] {k, n / 8}, t.qweightShape());
        assertArrayEquals(new long[] {k / g, n / 8}, t.qzerosShape());
        int[] order = {0, 2, 4, 6, 1, 3, 5, 7};
        for (int kk = 0; kk < k; kk++) {
            for (int nn = 0; nn < n; nn++) {
                int c = nn / 8, pos = 0;
                while (order[pos] != nn % 8) pos++;
                int code = (t.qweight()[kk * (n / 8) + c] >>> (4 * pos)) & 0xF;
                int zero = (t.qzeros()[(kk / g) * (n / 8) + c] >>> (4 * pos)) & 0xF;
                float scale = Float.float16ToFloat(t.scales()[(kk / g) * n + nn]);
                assertEquals(q.code(nn, kk), code);
                // dequantized x = (q − z)·s with no GPTQ −1 offset on the stored zero
                assertEquals(q.dequantize()[nn * k + kk], (code - zero) * scale, 0f);
            }
        }
        QuantizedTensor back = AwqPacking.unpack("w", t);
        assertArrayEquals(q.codes(), back.codes());
        assertArrayEquals(q.scales(), back.scales());
        assertArrayEquals(q.zeros(), back.zeros());
        assertArrayEquals(q.dequantize(), back.dequantize());
    }

    /** Same codes through GPTQ v1 and AWQ gemm: the same dequantized weights, bit for bit (symmetric and per channel too). */
    @Test
    void sameWeightsAsGptq() {
        for (int group : new int[] {16, 32, 128}) {
            for (boolean sym : new boolean[] {true, false}) {
                QuantizedTensor q = random(32, 128, group, sym, group * 3L + (sym ? 1 : 0));
                float[] viaGptq = GptqPacking.unpack("w", GptqPacking.pack(q), q.scheme()).dequantize();
                float[] viaAwq = AwqPacking.unpack("w", AwqPacking.pack(q)).dequantize();
                assertArrayEquals(viaGptq, viaAwq);
            }
        }
    }

    @Test
    void refusesWhatGemmCannotHold() {
        assertTrue(AwqPacking.unsupported(new QuantScheme(3, 128, false), 32, 128).contains("4-bit"));
        assertTrue(AwqPacking.unsupported(new QuantScheme(4, 128, false), 36, 128).contains("multiple of 8"));
        assertTrue(AwqPacking.unsupported(new QuantScheme(4, -1, false), 32, 128).contains("group size"));
        QuantizedTensor q = random(8, 32, 16, false, 1);
        int[] shuffled = q.gIdx().clone();
        shuffled[0] = 1;
        shuffled[16] = 0;
        QuantizedTensor actOrder = new QuantizedTensor("w", 8, 32, q.scheme(), q.codes(), q.scales(), q.zeros(), shuffled);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AwqPacking.pack(actOrder)).getMessage().contains("g_idx"));
        int[] zeros = q.zeros().clone();
        zeros[3] = 16;
        QuantizedTensor wideZero = new QuantizedTensor("w", 8, 32, q.scheme(), q.codes(), q.scales(), zeros, q.gIdx());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AwqPacking.pack(wideZero)).getMessage().contains("0..15"));
    }
}
