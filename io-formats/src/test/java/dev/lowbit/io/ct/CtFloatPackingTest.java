package dev.lowbit.io.ct;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * compressed-tensors NVFP4 / MXFP4 / FP8 packing: lossless round trips, and the packed bytes decoded by a decoder
 * written here from the format's definition (E2M1 nibble table, E4M3 / E8M0 by their bit fields, x = v·s/G) to the
 * in-memory values.
 */
class CtFloatPackingTest {
    static final double[] E2M1 = {0, 0.5, 1, 1.5, 2, 3, 4, 6};

    /** Random codes over every pattern, scales that are values of their storage type. */
    static QuantizedTensor random(QuantScheme s, int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int block = FloatSchemes.blockSize(s) == -1 ? cols : FloatSchemes.blockSize(s);
        int groups = cols / block;
        byte[] codes = new byte[rows * cols];
        for (int i = 0; i < codes.length; i++) codes[i] = (byte) rnd.nextInt(1 << s.bits());
        if (s.element() == ElementType.E4M3) {
            for (int i = 0; i < codes.length; i++) if ((codes[i] & 0x7F) == 0x7F) codes[i] = 0x7E; // no NaN codes
        }
        float[] scales = new float[rows * groups];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = switch (s.scaleType()) {
                case E4M3 -> FloatFormats.e4m3ToF32((byte) rnd.nextInt(0x7F));
                case E8M0 -> FloatFormats.e8m0ToF32(rnd.nextInt(100, 140));
                default -> (float) rnd.nextDouble(1e-5, 1e-2);
            };
        }
        int[] gIdx = new int[cols];
        for (int c = 0; c < cols; c++) gIdx[c] = c / block;
        float g = 1f;
        if (s.scaleType() == QuantScheme.ScaleType.E4M3) g = 1f / CtFloatPacking.globalScaleOf("w", 1f / 2345.678f);
        return new QuantizedTensor("w", rows, cols, s, List.of(new QuantizedTensor.Plane(codes, scales, null, null, null)), gIdx, g);
    }

    static void assertSame(QuantizedTensor a, QuantizedTensor b) {
        assertArrayEquals(a.codes(), b.codes());
        assertArrayEquals(a.scales(), b.scales());
        assertArrayEquals(a.gIdx(), b.gIdx());
        assertEquals(a.globalScale(), b.globalScale());
        assertArrayEquals(a.dequantize(), b.dequantize());
    }

    @Test
    void nvfp4RoundTripsAndDecodesPerDefinition() {
        QuantizedTensor q = random(FloatSchemes.NVFP4, 6, 64, 1);
        CtFloatPacking.Tensors t = CtFloatPacking.pack(q);
        assertEquals("nvfp4-pack-quantized", t.format());
        assertEquals(6 * 32, t.weight().length);
        assertEquals(6 * 4, t.scaleBytes().length);
        assertSame(q, CtFloatPacking.unpack("w", t, FloatSchemes.NVFP4));
        float[] mem = q.dequantize();
        for (int r = 0; r < 6; r++) {
            for (int c = 0; c < 64; c++) {
                int b = t.weight()[r * 32 + c / 2] & 0xFF;
                int nib = c % 2 == 0 ? b & 0xF : b >>> 4;
                double v = (nib & 8) != 0 ? -E2M1[nib & 7] : E2M1[nib & 7];
                double s = e4m3(t.scaleBytes()[r * 4 + c / 16] & 0xFF);
                double x = v * s / t.globalScale();
                // our f32 evaluates g·(s·v) with g = 1/G rounded: two roundings, so within 2 ulp of the exact value
                assertEquals(x, mem[r * 64 + c], 2 * Math.ulp((float) x) + 1e-30, "row " + r + " col " + c);
            }
        }
    }

    @Test
    void mxfp4RoundTripsAndDecodesPerDefinition() {
        QuantizedTensor q = random(FloatSchemes.MXFP4, 5, 96, 2);
        CtFloatPacking.Tensors t = CtFloatPacking.pack(q);
        assertEquals("mxfp4-pack-quantized", t.format());
        assertSame(q, CtFloatPacking.unpack("w", t, FloatSchemes.MXFP4));
        float[] mem = q.dequantize();
        for (int r = 0; r < 5; r++) {
            for (int c = 0; c < 96; c++) {
                int b = t.weight()[r * 48 + c / 2] & 0xFF;
                int nib = c % 2 == 0 ? b & 0xF : b >>> 4;
                double v = (nib & 8) != 0 ? -E2M1[nib & 7] : E2M1[nib & 7];
                double x = v * Math.pow(2, (t.scaleBytes()[r * 3 + c / 32] & 0xFF) - 127);
                assertEquals(x, mem[r * 96 + c], 0.0, "exact: a power of two times an E2M1 value");
            }
        }
    }

    @Test
    void fp8PerChannelRoundTripsAndDecodesPerDefinition() {
        QuantScheme s = FloatSchemes.fp8(ElementType.E4M3, true);
        QuantizedTensor q = random(s, 7, 40, 3);
        CtFloatPacking.Tensors t = CtFloatPacking.pack(q);
        assertEquals("float-quantized", t.format());
        assertSame(q, CtFloatPacking.unpack("w", t, s));
        float[] mem = q.dequantize();
        for (int i = 0; i < mem.length; i++) {
            double x = e4m3(t.weight()[i] & 0xFF) * t.scaleF32()[i / 40];
            assertEquals(x, mem[i], Math.ulp((float) x), "one f32 rounding of the product");
        }
    }

    /** E4M3 (OCP, fn) from its bit fields: bias 7, subnormal 2^-6·m/8, 0x7F/0xFF NaN. */
    static double e4m3(int b) {
        int e = (b >>> 3) & 0xF, m = b & 7;
        if (e == 0xF && m == 7) return Double.NaN;
        double v = e == 0 ? Math.pow(2, -6) * m / 8 : Math.pow(2, e - 7) * (1 + m / 8.0);
        return (b & 0x80) != 0 ? -v : v;
    }

    @Test
    void refusesWhatTheFormatCannotHold() {
        QuantizedTensor q = random(FloatSchemes.NVFP4, 2, 32, 4);
        float[] bad = q.scales().clone();
        bad[1] = 0.3f; // not an E4M3 value
        QuantizedTensor notE4m3 = new QuantizedTensor("layers.0.q", 2, 32, q.scheme(),
                List.of(new QuantizedTensor.Plane(q.codes(), bad, null, null, null)), q.gIdx(), q.globalScale());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CtFloatPacking.pack(notE4m3));
        assertTrue(e.getMessage().contains("layers.0.q") && e.getMessage().contains("E4M3"), e.getMessage());

        QuantizedTensor mx = random(FloatSchemes.MXFP4, 2, 64, 5);
        float[] bad2 = mx.scales().clone();
        bad2[0] = 0.75f;
        assertThrows(IllegalArgumentException.class, () -> CtFloatPacking.pack(new QuantizedTensor("m", 2, 64, mx.scheme(),
                List.of(new QuantizedTensor.Plane(mx.codes(), bad2, null, null, null)), mx.gIdx(), 1f)));

        CtFloatPacking.Tensors t = CtFloatPacking.pack(q);
        CtFloatPacking.Tensors nanScale = new CtFloatPacking.Tensors(t.format(), 2, 32, t.weight(), new byte[] {0x7F, 0x38, 0x38, 0x38}, null, t.globalScale());
        assertThrows(IllegalArgumentException.class, () -> CtFloatPacking.unpack("w", nanScale, FloatSchemes.NVFP4));
        CtFloatPacking.Tensors badG = new CtFloatPacking.Tensors(t.format(), 2, 32, t.weight(), t.scaleBytes(), null, Float.POSITIVE_INFINITY);
        assertThrows(IllegalArgumentException.class, () -> CtFloatPacking.unpack("w", badG, FloatSchemes.NVFP4));
        CtFloatPacking.Tensors shortW = new CtFloatPacking.Tensors(t.format(), 2, 32, new byte[5], t.scaleBytes(), null, t.globalScale());
        assertThrows(IllegalArgumentException.class, () -> CtFloatPacking.unpack("w", shortW, FloatSchemes.NVFP4));
    }
}
