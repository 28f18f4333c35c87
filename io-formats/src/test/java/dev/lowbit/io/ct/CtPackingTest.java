package dev.lowbit.io.ct;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.kernels.FloatFormats;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CtPackingTest {

    /** Random codes, zeros over the full signed range, scales exactly representable in bf16 (hence in f16 too here). */
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
            scales[i] = FloatFormats.bf16ToF32(FloatFormats.f32ToBf16((float) rnd.nextDouble(1e-3, 0.5)));
            zeros[i] = sym ? 1 << (bits - 1) : rnd.nextInt(1 << bits);
        }
        return new QuantizedTensor("w", rows, cols, scheme, codes, scales, zeros, gIdx);
    }

    static void assertSame(QuantizedTensor a, QuantizedTensor b) {
        assertArrayEquals(a.codes(), b.codes());
        assertArrayEquals(a.scales(), b.scales());
        assertArrayEquals(a.zeros(), b.zeros());
        assertArrayEquals(a.gIdx(), b.gIdx());
        assertArrayEquals(a.dequantize(), b.dequantize());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void roundTripOddShapesBothLayoutsBothScaleTypes(int bits) {
        for (CtPackLayout layout : CtPackLayout.values()) {
            for (DType dt : new DType[] {DType.BF16, DType.F16}) {
                for (boolean sym : new boolean[] {true, false}) {
                    for (int g : new int[] {-1, 32}) {
                        QuantizedTensor q = random(bits, 7, 207, g, sym, null, bits * 7L + g);
                        CtTensors t = CtPacking.pack(q, dt, layout, false);
                        assertArrayEquals(new long[] {7, layout.words(207, bits)}, t.weightPackedShape());
                        assertArrayEquals(new long[] {7, 207}, t.weightShape());
                        assertEquals(sym, t.weightZeroPoint() == null);
                        assertSame(q, CtPacking.unpack("w", t, q.scheme()));
                    }
                }
            }
        }
    }

    @Test
    void actOrderGIdx() {
        int k = 100, g = 25;
        int[] gIdx = new int[k];
        for (int c = 0; c < k; c++) gIdx[c] = (c * 37 % k) / g; // a permutation of columns into 4 groups of 25
        QuantizedTensor q = random(4, 9, k, g, false, gIdx, 9);
        CtTensors t = CtPacking.pack(q, DType.BF16, CtPackLayout.DENSE, true);
        assertArrayEquals(gIdx, t.weightGIdx());
        assertSame(q, CtPacking.unpack("w", t, q.scheme()));
        assertNull(CtPacking.pack(q, DType.BF16, CtPackLayout.DENSE, false).weightGIdx());
    }

    /**
     * 4-bit symmetric, N = 2, K = 10, code(n, k) = (k + 3n) mod 16 — signed values −8..7 stored +8, i.e. the code
     * itself. Row-wise LSB first, 8 per word: row 0 = codes 0..7 → 0x76543210, then codes 8, 9 → 0x00000098;
     * row 1 = codes 3..10 → 0xA9876543, then 11, 12 → 0x000000CB. Scale 0.25 in bf16 = 0x3E80. No zero point.
     */
    @Test
    void handComputed4Bit() {
        QuantScheme s = new QuantScheme(4, -1, true);
        byte[] codes = new byte[20];
        for (int n = 0; n < 2; n++) for (int k = 0; k < 10; k++) codes[n * 10 + k] = (byte) ((k + 3 * n) & 15);
        QuantizedTensor q = new QuantizedTensor("w", 2, 10, s, codes, new float[] {0.25f, 0.25f}, new int[] {8, 8},
                new int[10]);
        CtTensors t = CtPacking.pack(q, DType.BF16, CtPackLayout.DENSE, false);
        assertArrayEquals(new int[] {0x76543210, 0x00000098, 0xA9876543, 0x000000CB}, t.weightPacked());
        assertArrayEquals(new short[] {0x3E80, 0x3E80}, t.weightScale());
        assertNull(t.weightZeroPoint());
        assertArrayEquals(t.weightPacked(), CtPacking.pack(q, DType.BF16, CtPackLayout.WORD_ALIGNED, false).weightPacked());
    }

    /**
     * 3-bit, one row, K = 11, code(k) = k mod 8. Word-aligned (10 per word): word 0 = codes 0..9 at bits 3i =
     * octal 1076543210, bits 30–31 unused; word 1 = code 10 = 2. Dense: word 0 additionally carries the low two bits
     * of code 10 (0b10) at bits 30–31 → | 0x80000000; word 1 = its top bit (0) → 0.
     */
    @Test
    void handComputed3BitBothLayouts() {
        QuantScheme s = new QuantScheme(3, -1, true);
        byte[] codes = new byte[11];
        for (int k = 0; k < 11; k++) codes[k] = (byte) (k & 7);
        QuantizedTensor q = new QuantizedTensor("w", 1, 11, s, codes, new float[] {1f}, new int[] {4}, new int[11]);
        assertArrayEquals(new int[] {01076543210, 2},
                CtPacking.pack(q, DType.F16, CtPackLayout.WORD_ALIGNED, false).weightPacked());
        assertArrayEquals(new int[] {0x80000000 | 01076543210, 0},
                CtPacking.pack(q, DType.F16, CtPackLayout.DENSE, false).weightPacked());
    }

    /**
     * Zero points packed along dim 0: 4-bit asymmetric, N = 9, two groups; zero(n, g) = n + 5g (true unsigned zero,
     * signed zero + 8). weight_zero_point is [ceil(9/8), 2] = [2, 2]: word (0, g) holds n = 0..7, word (1, g) holds n = 8.
     * g = 0: 0x76543210 and 0x8; g = 1: zeros 5..12 → 0xCBA98765 and 13 → 0xD. Row-major: {w00, w01, w10, w11}.
     */
    @Test
    void handComputedZeroPoints() {
        QuantScheme s = new QuantScheme(4, 4, false);
        int[] zeros = new int[18];
        for (int n = 0; n < 9; n++) for (int g = 0; g < 2; g++) zeros[n * 2 + g] = n + 5 * g;
        float[] scales = new float[18];
        java.util.Arrays.fill(scales, 1f);
        QuantizedTensor q = new QuantizedTensor("w", 9, 8, s, new byte[72], scales, zeros,
                QuantizedTensor.sequentialGroups(8, s));
        CtTensors t = CtPacking.pack(q, DType.F16, CtPackLayout.DENSE, false);
        assertArrayEquals(new long[] {2, 2}, t.weightZeroPointShape());
        assertArrayEquals(new int[] {0x76543210, 0xCBA98765, 0x8, 0xD}, t.weightZeroPoint());
        for (short h : t.weightScale()) assertEquals((short) 0x3C00, h);
        assertSame(q, CtPacking.unpack("w", t, s));
    }

    @Test
    void refusals() {
        QuantizedTensor sym = random(4, 3, 16, -1, true, null, 1);
        sym.zeros()[1] = 7;
        assertThrows(IllegalArgumentException.class, () -> CtPacking.pack(sym, DType.BF16, CtPackLayout.DENSE, false));
        QuantizedTensor big = random(4, 3, 16, -1, true, null, 2);
        big.scales()[0] = 1e6f;
        assertThrows(IllegalArgumentException.class, () -> CtPacking.pack(big, DType.F16, CtPackLayout.DENSE, false));
        assertThrows(IllegalArgumentException.class, () -> CtPacking.pack(big, DType.F32, CtPackLayout.DENSE, false));
        CtTensors t = CtPacking.pack(random(4, 3, 16, -1, false, null, 3), DType.BF16, CtPackLayout.DENSE, false);
        assertThrows(IllegalArgumentException.class, () -> CtPacking.unpack("w", t, new QuantScheme(4, -1, true)));
        assertThrows(IllegalArgumentException.class, () -> CtPacking.unpack("w", t, new QuantScheme(8, -1, false)));
    }

    @Test
    void quantizationConfig() {
        ObjectNode c = CtConfig.quantizationConfig(new QuantScheme(4, 128, true), "group", List.of("lm_head"));
        assertEquals("compressed-tensors", c.get("quant_method").asText());
        assertEquals("pack-quantized", c.get("format").asText());
        assertEquals("compressed", c.get("quantization_status").asText());
        JsonNode g = c.get("config_groups").get("group_0");
        assertEquals("Linear", g.get("targets").get(0).asText());
        JsonNode w = g.get("weights");
        assertEquals(4, w.get("num_bits").asInt());
        assertEquals("int", w.get("type").asText());
        assertTrue(w.get("symmetric").asBoolean());
        assertEquals(128, w.get("group_size").asInt());
        assertEquals("group", w.get("strategy").asText());
        assertEquals("group", w.get("actorder").asText());
        assertEquals("minmax", w.get("observer").asText());
        assertTrue(g.get("input_activations").isNull());
        assertEquals("lm_head", c.get("ignore").get(0).asText());
        JsonNode ch = CtConfig.quantizationConfig(new QuantScheme(8, -1, false), null, List.of())
                .get("config_groups").get("group_0").get("weights");
        assertEquals("channel", ch.get("strategy").asText());
        assertTrue(ch.get("group_size").isNull());
        assertTrue(ch.get("actorder").isNull());
    }
}
