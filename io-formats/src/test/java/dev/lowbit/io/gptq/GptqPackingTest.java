package dev.lowbit.io.gptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class GptqPackingTest {

    /**
     * A random tensor whose scales are fp16-representable (so the round trip is exact) and whose asymmetric zeros
     * span the whole v1-storable range 1..2^bits.
     */
    static QuantizedTensor random(int bits, int rows, int cols, int groupSize, boolean sym, int[] gIdx, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        QuantScheme scheme = new QuantScheme(bits, groupSize, sym);
        if (gIdx == null) gIdx = QuantizedTensor.sequentialGroups(cols, scheme);
        int groups = 0;
        for (int g : gIdx) groups = Math.max(groups, g + 1);
        byte[] codes = new byte[rows * cols];
        for (int i = 0; i < codes.length; i++) codes[i] = (byte) rnd.nextInt(1 << bits);
        float[] scales = new float[rows * groups];
        int[] zeros = new int[rows * groups];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = Float.float16ToFloat(Float.floatToFloat16((float) rnd.nextDouble(1e-4, 0.5)));
            zeros[i] = sym ? 1 << (bits - 1) : 1 + rnd.nextInt(1 << bits);
        }
        return new QuantizedTensor("w", rows, cols, scheme, codes, scales, zeros, gIdx);
    }

    static void assertSame(QuantizedTensor a, QuantizedTensor b) {
        assertEquals(a.rows(), b.rows());
        assertEquals(a.cols(), b.cols());
        assertArrayEquals(a.codes(), b.codes());
        assertArrayEquals(a.scales(), b.scales());
        assertArrayEquals(a.zeros(), b.zeros());
        assertArrayEquals(a.gIdx(), b.gIdx());
        assertArrayEquals(a.dequantize(), b.dequantize());
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 8})
    void roundTripSymmetricAndAsymmetric(int bits) {
        // smallest legal multiples for each width (3-bit needs 32), with a partial last group
        int k = bits == 3 ? 96 : 32 / bits * 5, n = bits == 3 ? 64 : 32 / bits * 3;
        for (boolean sym : new boolean[] {true, false}) {
            for (int g : new int[] {-1, 16, 32}) {
                QuantizedTensor q = random(bits, n, k, g, sym, null, bits * 31L + g);
                GptqTensors t = GptqPacking.pack(q);
                assertArrayEquals(new long[] {(long) k * bits / 32, n}, t.qweightShape());
                assertArrayEquals(new long[] {q.groups(), (long) n * bits / 32}, t.qzerosShape());
                assertSame(q, GptqPacking.unpack("w", t, q.scheme()));
            }
        }
    }

    @Test
    void actOrderGIdxSurvives() {
        int k = 64, n = 16, g = 16;
        // act-order: columns are visited in a seeded permutation, and the i-th visited column joins group i / g
        SplittableRandom rnd = new SplittableRandom(11);
        int[] perm = new int[k];
        for (int i = 0; i < k; i++) perm[i] = i;
        for (int i = k - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        int[] gIdx = new int[k];
        for (int i = 0; i < k; i++) gIdx[perm[i]] = i / g;
        QuantizedTensor q = random(4, n, k, g, false, gIdx, 5);
        GptqTensors t = GptqPacking.pack(q);
        assertArrayEquals(gIdx, t.gIdx());
        assertSame(q, GptqPacking.unpack("w", t, q.scheme()));
        // without a stored g_idx the reader would assume sequential groups and dequantize differently
        GptqTensors noGIdx = new GptqTensors(4, k, n, t.qweight(), t.qzeros(), t.scales(), null);
        assertTrue(!java.util.Arrays.equals(q.dequantize(), GptqPacking.unpack("w", noGIdx, q.scheme()).dequantize()));
    }

    /**
     * 4-bit, K = N = 8, one group, code(n, k) = (n + k) mod 16, scale 1, symmetric zero 8. By the spec, word r = 0 of
     * column n holds k = i at bit 4i, so its hex digits read from the right are the codes n, n+1, …, n+7:
     * column 0 → 0x76543210, column 1 → 0x87654321, column 7 → 0xEDCBA987, column 9 would wrap. qzeros stores 8−1 = 7
     * in each of the 8 nibbles: 0x77777777. fp16 1.0 = 0x3C00.
     */
    @Test
    void handComputed4Bit() {
        QuantScheme s = new QuantScheme(4, -1, true);
        byte[] codes = new byte[64];
        for (int n = 0; n < 8; n++) for (int k = 0; k < 8; k++) codes[n * 8 + k] = (byte) ((n + k) & 15);
        float[] scales = {1, 1, 1, 1, 1, 1, 1, 1};
        int[] zeros = {8, 8, 8, 8, 8, 8, 8, 8};
        GptqTensors t = GptqPacking.pack(new QuantizedTensor("w", 8, 8, s, codes, scales, zeros, new int[8]));
        assertArrayEquals(new int[] {0x76543210, 0x87654321, 0x98765432, 0xA9876543, 0xBA987654, 0xCBA98765,
                0xDCBA9876, 0xEDCBA987}, t.qweight());
        assertArrayEquals(new int[] {0x77777777}, t.qzeros());
        for (short h : t.scales()) assertEquals((short) 0x3C00, h);
        assertArrayEquals(new int[8], t.gIdx());
    }

    /**
     * 3-bit, K = N = 32, column n has code(k) = (k + n) mod 8. The spec's stream: code k sits at stream bit 3k, word r
     * holds stream bits 32r..32r+31. For column 0 (codes 0,1,…,7,0,1,…):
     * word 0: codes 0..9 at bits 0..29 = octal 1076543210 (code 9 = 1 … code 0 = 0); code 10 = 2 = 0b010 puts its
     * low two bits 10 at bits 30–31, so bit 31 set → 0x80000000 | 01076543210.
     * word 1: bit 0 = bit 2 of code 10 = 0; codes 11..20 = 3,4,5,6,7,0,1,2,3,4 at bits 1..30 → octal 4321076543 << 1;
     * bit 31 = bit 0 of code 21 (= 5) = 1.
     * word 2: bits 0–1 = bits 1–2 of code 21 = 0b10 = 2; codes 22..31 = 6,7,0,1,2,3,4,5,6,7 at bits 2..31 →
     * octal 7654321076 << 2.
     * Zeros: symmetric 4 stored as 3 = 0b011 for all 32 outputs: stream of "011" repeated; word 0 = octal 3333333333
     * plus code 10's low bits 11 at 30–31 → 0xC0000000 | 03333333333; word 1 = bit 0 = 0 (bit 2 of 3), then
     * 03333333333 << 1, bit 31 = 1 → 0x80000000 | (03333333333 << 1); word 2 = bits 0–1 = 0b01, then
     * 03333333333 << 2.
     */
    @Test
    void handComputed3Bit() {
        QuantScheme s = new QuantScheme(3, -1, true);
        byte[] codes = new byte[32 * 32];
        for (int n = 0; n < 32; n++) for (int k = 0; k < 32; k++) codes[n * 32 + k] = (byte) ((k + n) & 7);
        float[] scales = new float[32];
        int[] zeros = new int[32];
        java.util.Arrays.fill(scales, 0.5f);
        java.util.Arrays.fill(zeros, 4);
        GptqTensors t = GptqPacking.pack(new QuantizedTensor("w", 32, 32, s, codes, scales, zeros, new int[32]));
        // qweight is [3, 32]: word r of column 0 is qweight[r * 32]
        assertEquals(0x80000000 | 01076543210, t.qweight()[0]);
        assertEquals(0x80000000 | (04321076543 << 1), t.qweight()[32]);
        assertEquals((07654321076 << 2) | 2, t.qweight()[64]);
        assertEquals(0xC0000000 | 03333333333, t.qzeros()[0]);
        assertEquals(0x80000000 | (03333333333 << 1), t.qzeros()[1]);
        assertEquals((03333333333 << 2) | 1, t.qzeros()[2]);
        assertSame(new QuantizedTensor("w", 32, 32, s, codes, scales, zeros, new int[32]), GptqPacking.unpack("w", t, s));
    }

    @Test
    void v1StoresZeroMinusOne() {
        QuantizedTensor q = random(4, 16, 32, 8, true, null, 1);
        for (int w : GptqPacking.pack(q).qzeros()) assertEquals(0x77777777, w);
        q = random(8, 8, 8, -1, true, null, 2);
        for (int w : GptqPacking.pack(q).qzeros()) assertEquals(0x7F7F7F7F, w);
        // asymmetric: true zeros 1..16 of one group, stored 0..15 in nibble order
        QuantScheme s = new QuantScheme(4, -1, false);
        int[] zeros = new int[16];
        for (int i = 0; i < 16; i++) zeros[i] = i + 1;
        QuantizedTensor a = new QuantizedTensor("w", 16, 8, s, new byte[128], new float[16], zeros, new int[8]);
        GptqTensors t = GptqPacking.pack(a);
        assertArrayEquals(new int[] {0x76543210, 0xFEDCBA98}, t.qzeros());
        assertArrayEquals(zeros, GptqPacking.unpack("w", t, s).zeros()); // 16 = 2^b reads back as 16
    }

    @Test
    void refusesWhatV1CannotStore() {
        QuantizedTensor q = random(4, 16, 32, 16, false, null, 3);
        q.zeros()[5] = 0;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GptqPacking.pack(q));
        assertTrue(e.getMessage().contains("row 2, group 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GptqPacking.requireV1Zeros(q));
        assertThrows(IllegalArgumentException.class, () -> GptqPacking.pack(random(3, 32, 40, -1, true, null, 4)));
        assertThrows(IllegalArgumentException.class, () -> GptqPacking.pack(random(3, 40, 32, -1, true, null, 4)));
        assertThrows(IllegalArgumentException.class, () -> GptqPacking.pack(random(4, 12, 32, -1, true, null, 4)));
        assertThrows(IllegalArgumentException.class, () -> GptqPacking.pack(random(4, 16, 36, -1, true, null, 4)));
        assertThrows(IllegalArgumentException.class, () -> GptqPacking.pack(random(5, 32, 32, -1, true, null, 4)));
        GptqTensors ok = GptqPacking.pack(random(4, 8, 32, 16, true, null, 7));
        int[] badGIdx = new int[32];
        badGIdx[3] = 2; // only 2 groups of scales
        assertThrows(IllegalArgumentException.class, () -> GptqPacking.unpack("w",
                new GptqTensors(4, 32, 8, ok.qweight(), ok.qzeros(), ok.scales(), badGIdx), new QuantScheme(4, 16, true)));
        QuantizedTensor big = random(4, 8, 8, -1, true, null, 6);
        big.scales()[0] = 1e6f;
        assertThrows(IllegalArgumentException.class, () -> GptqPacking.pack(big));
    }

    @Test
    void quantizationConfig() {
        ObjectNode c = GptqConfig.quantizationConfig(new QuantScheme(4, 128, true), true, false, 0.01, true);
        assertEquals("gptq", c.get("quant_method").asText());
        assertEquals(4, c.get("bits").asInt());
        assertEquals(128, c.get("group_size").asInt());
        assertTrue(c.get("desc_act").asBoolean());
        assertTrue(c.get("sym").asBoolean());
        assertEquals("gptq", c.get("checkpoint_format").asText());
        assertEquals(0.01, c.get("meta").get("damp_percent").asDouble());
        assertEquals(-1, GptqConfig.quantizationConfig(new QuantScheme(8, -1, false), false, false, 0.01, true)
                .get("group_size").asInt());
        assertThrows(IllegalArgumentException.class,
                () -> GptqConfig.quantizationConfig(new QuantScheme(5, 128, true), false, false, 0.01, true));
    }
}
