package dev.lowbit.io.trit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The trit-plane layout: the byte definitions written out here, lossless round trips, hostile bytes. */
class TritPlaneTensorsTest {
    private static QuantizedTensor random(int planes, int rows, int cols, int group, TritPacking packing, long seed) {
        Random rnd = new Random(seed);
        int groups = cols / group;
        List<QuantizedTensor.Plane> list = new java.util.ArrayList<>();
        for (int p = 0; p < planes; p++) {
            byte[] codes = new byte[rows * cols];
            for (int i = 0; i < codes.length; i++) codes[i] = (byte) rnd.nextInt(3);
            float[] s = new float[rows * groups];
            for (int i = 0; i < s.length; i++) s[i] = FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) rnd.nextGaussian() * 0.02f));
            list.add(new QuantizedTensor.Plane(codes, s, null, null, null));
        }
        var scheme = TritPlaneTensors.scheme(planes, group, packing);
        return new QuantizedTensor("m", rows, cols, scheme, list, QuantizedTensor.sequentialGroups(cols, scheme), 1f);
    }

    @Test
    void bytesFollowTheDocumentedLayout() {
        byte[] codes = {2, 0, 1, 2, 2, /* next byte */ 0, 1}; // one row of 7
        // base3: byte k = Σ q[5k+n]·3ⁿ; the second byte's missing trits are padded with q = 1
        assertArrayEquals(new byte[] {(byte) (2 + 0 * 3 + 1 * 9 + 2 * 27 + 2 * 81), (byte) (0 + 1 * 3 + 1 * 9 + 1 * 27 + 1 * 81)},
                TritPacking.BASE3.pack(codes, 1, 7));
        // 2bit: element c at bits 2·(c mod 4) of byte c/4
        assertArrayEquals(new byte[] {(byte) (2 | 0 << 2 | 1 << 4 | 2 << 6), (byte) (2 | 0 << 2 | 1 << 4 | 1 << 6)},
                TritPacking.BITS2.pack(codes, 1, 7));
        assertEquals(2, TritPacking.BASE3.rowBytes(7));
        assertEquals(2, TritPacking.BITS2.rowBytes(7));
    }

    @Test
    void roundTripsAreLosslessOnAwkwardShapes() {
        for (TritPacking packing : new TritPacking[] {TritPacking.BASE3, TritPacking.BITS2}) {
            for (int[] shape : new int[][] {{1, 1, 1}, {3, 7, 7}, {5, 207, 69}, {2, 702, 117}, {64, 512, 128}}) {
                for (int planes = 1; planes <= 3; planes++) {
                    QuantizedTensor q = random(planes, shape[0], shape[1], shape[2], packing, shape[1] * 31L + planes);
                    TritPlaneTensors t = TritPlaneTensors.pack(q, packing);
                    assertEquals((long) planes * shape[0] * packing.rowBytes(shape[1]), t.planes().length);
                    QuantizedTensor back = t.unpack("m");
                    assertArrayEquals(q.dequantize(), back.dequantize(), 0f);
                    for (int p = 0; p < planes; p++) {
                        assertArrayEquals(q.planes().get(p).codes(), back.planes().get(p).codes());
                        assertArrayEquals(q.planes().get(p).scales(), back.planes().get(p).scales(), 0f);
                    }
                    assertEquals(q.scheme(), back.scheme());
                }
            }
        }
    }

    /** Binarized planes: plane 0 signs everywhere, plane 1 signs on a few columns, t = 0 elsewhere. */
    private static QuantizedTensor binarized(int rows, int cols, int group, boolean[] residual, long seed) {
        Random rnd = new Random(seed);
        int groups = cols / group;
        List<QuantizedTensor.Plane> list = new java.util.ArrayList<>();
        for (int p = 0; p < 2; p++) {
            byte[] codes = new byte[rows * cols];
            for (int i = 0; i < codes.length; i++) codes[i] = (byte) (p == 0 || residual[i % cols] ? 2 * rnd.nextInt(2) : 1);
            float[] s = new float[rows * groups];
            for (int i = 0; i < s.length; i++) s[i] = FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) rnd.nextGaussian() * 0.02f));
            list.add(new QuantizedTensor.Plane(codes, s, null, null, null));
        }
        var scheme = TritPlaneTensors.scheme(2, group, TritPacking.BITS1);
        return new QuantizedTensor("m", rows, cols, scheme, list, QuantizedTensor.sequentialGroups(cols, scheme), 1f);
    }

    @Test
    void oneBitPlanesWithColumnMasksFollowTheLayoutAndRoundTrip() {
        // one row of 10: plane 0 stores all columns, plane 1 columns 2 and 9 only
        boolean[] res = new boolean[10];
        res[2] = res[9] = true;
        QuantizedTensor q = binarized(1, 10, 10, res, 3);
        TritPlaneTensors t = TritPlaneTensors.pack(q, TritPacking.BITS1, true);
        byte[] c0 = q.planes().get(0).codes(), c1 = q.planes().get(1).codes();
        int lo = 0, hi = 0;
        for (int c = 0; c < 8; c++) lo |= (c0[c] / 2) << c;
        for (int c = 8; c < 10; c++) hi |= (c0[c] / 2) << (c - 8);
        int sparse = (c1[2] / 2) | (c1[9] / 2) << 1;
        // plane 0: two bytes (10 signs, bit c mod 8 of byte c / 8, padding 0); plane 1: one byte holding 2 signs
        assertArrayEquals(new byte[] {(byte) lo, (byte) hi, (byte) sparse}, t.planes());
        // masks: plane 0 all ten columns (0xFF, 0x03), plane 1 bits 2 and 9 (0x04, 0x02)
        assertArrayEquals(new byte[] {(byte) 0xFF, 0x03, 0x04, 0x02}, t.columns());
        assertArrayEquals(q.dequantize(), t.unpack("m").dequantize(), 0f);
        // awkward shapes, 0 to all residual columns
        for (int[] shape : new int[][] {{1, 1, 1}, {3, 7, 7}, {5, 207, 69}, {17, 702, 117}}) {
            for (double frac : new double[] {0, 0.1, 1}) {
                Random rnd = new Random(shape[1]);
                boolean[] r = new boolean[shape[1]];
                for (int c = 0; c < r.length; c++) r[c] = rnd.nextDouble() < frac;
                QuantizedTensor b = binarized(shape[0], shape[1], shape[2], r, shape[0] * 7L);
                TritPlaneTensors packed = TritPlaneTensors.pack(b, TritPacking.BITS1, true);
                int kept = 0;
                for (boolean x : r) kept += x ? 1 : 0;
                assertEquals((long) shape[0] * (Math.ceilDiv(shape[1], 8) + Math.ceilDiv(kept, 8)), packed.planes().length);
                QuantizedTensor back = packed.unpack("m");
                for (int p = 0; p < 2; p++) assertArrayEquals(b.planes().get(p).codes(), back.planes().get(p).codes());
                assertArrayEquals(b.dequantize(), back.dequantize(), 0f);
            }
        }
    }

    /** PB-LLM's form: one sign plane, a random fraction of weights salient (plane code 0 under them), int8 codes. */
    private static QuantizedTensor partiallyBinarized(int rows, int cols, int group, double fraction, long seed) {
        Random rnd = new Random(seed);
        byte[] signs = new byte[rows * cols], mask = new byte[rows * cols], codes = new byte[rows * cols];
        for (int i = 0; i < signs.length; i++) {
            if (rnd.nextDouble() < fraction) {
                mask[i] = 1;
                codes[i] = (byte) (rnd.nextInt(255) - 127);
            } else {
                signs[i] = (byte) (2 * rnd.nextInt(2));
            }
        }
        float[] alpha = new float[rows * (cols / group)], rowScale = new float[rows];
        for (int i = 0; i < alpha.length; i++) alpha[i] = FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) rnd.nextGaussian() * 0.02f));
        for (int r = 0; r < rows; r++) rowScale[r] = FloatFormats.f16ToF32(FloatFormats.f32ToF16(rnd.nextFloat() * 1e-3f));
        var scheme = TritPlaneTensors.scheme(1, group, TritPacking.BITS1);
        return new QuantizedTensor("m", rows, cols, scheme, List.of(new QuantizedTensor.Plane(signs, alpha, null, null, null)),
                QuantizedTensor.sequentialGroups(cols, scheme), 1f, new QuantizedTensor.Salient(mask, codes, rowScale));
    }

    @Test
    void salientWeightsFollowTheLayoutRoundTripAndRefuseHostileBytes() {
        // one row of 10, weights 3 and 8 salient: mask bits 3 and 8, their codes in column order, their sign bits 0
        QuantizedTensor one = partiallyBinarized(1, 10, 10, 0, 4);
        byte[] mask = new byte[10], codes = new byte[10], signs = one.planes().getFirst().codes().clone();
        mask[3] = mask[8] = 1;
        codes[3] = -127;
        codes[8] = 5;
        signs[3] = signs[8] = 0;
        QuantizedTensor q = new QuantizedTensor("m", 1, 10, one.scheme(), List.of(new QuantizedTensor.Plane(signs, one.scales(), null, null, null)),
                one.gIdx(), 1f, new QuantizedTensor.Salient(mask, codes, new float[] {0.5f}));
        TritPlaneTensors t = TritPlaneTensors.pack(q, TritPacking.BITS1, true);
        assertArrayEquals(new byte[] {0x08, 0x01}, t.salient().mask());
        assertArrayEquals(new byte[] {-127, 5}, t.salient().values());
        assertEquals(FloatFormats.f32ToF16(0.5f), t.salient().scales()[0]);
        float[] w = t.unpack("m").dequantize();
        // the definition, written out: a salient weight is scale · code, every other one ±α
        for (int c = 0; c < 10; c++) {
            float expected = c == 3 ? -63.5f : c == 8 ? 2.5f : (signs[c] == 2 ? 1 : -1) * one.scales()[0];
            assertEquals(expected, w[c], 0f, "column " + c);
        }
        // awkward shapes, no to all salient weights: lossless, and the byte counts are the documented ones
        for (int[] shape : new int[][] {{1, 1, 1}, {3, 7, 7}, {5, 207, 69}, {17, 702, 117}}) {
            for (double frac : new double[] {0, 0.1, 1}) {
                QuantizedTensor b = partiallyBinarized(shape[0], shape[1], shape[2], frac, shape[1] * 31L);
                TritPlaneTensors packed = TritPlaneTensors.pack(b, TritPacking.BITS1, true);
                assertEquals(b.salient().count(), packed.salient().values().length);
                assertEquals((long) shape[0] * Math.ceilDiv(shape[1], 8), packed.salient().mask().length);
                QuantizedTensor back = packed.unpack("m");
                assertArrayEquals(b.salient().mask(), back.salient().mask());
                assertArrayEquals(b.salient().codes(), back.salient().codes());
                assertArrayEquals(b.dequantize(), back.dequantize(), 0f);
            }
        }
        // hostile: a set plane bit under a salient weight, a code −128, a value count off the mask, a mask bit past the row
        byte[] planes = t.planes().clone();
        planes[0] |= 0x08;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TritPlaneTensors(1, 1, 10, 1, TritPacking.BITS1, planes, t.scales(), t.columns(), t.salient()).unpack("layer.v"));
        assertTrue(e.getMessage().contains("layer.v.trit_planes") && e.getMessage().contains("[0, 3]"), e.getMessage());
        TritPlaneTensors.Salient s = t.salient();
        e = assertThrows(IllegalArgumentException.class, () -> new TritPlaneTensors(1, 1, 10, 1, TritPacking.BITS1, t.planes(), t.scales(), t.columns(),
                new TritPlaneTensors.Salient(s.mask(), new byte[] {-128, 5}, s.scales())));
        assertTrue(e.getMessage().contains("-128") || e.getMessage().contains("−128"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TritPlaneTensors(1, 1, 10, 1, TritPacking.BITS1, t.planes(), t.scales(), t.columns(),
                new TritPlaneTensors.Salient(s.mask(), new byte[] {5}, s.scales())));
        assertTrue(e.getMessage().contains("1 codes for 2 mask bits"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TritPlaneTensors(1, 1, 10, 1, TritPacking.BITS1, t.planes(), t.scales(), t.columns(),
                new TritPlaneTensors.Salient(new byte[] {0x08, 0x05}, new byte[] {1, 2, 3}, s.scales())));
        assertTrue(e.getMessage().contains("past 10"), e.getMessage());
        // salient weights need 1-bit planes
        QuantizedTensor dense = random(1, 2, 8, 8, TritPacking.BASE3, 5);
        assertThrows(IllegalArgumentException.class, () -> new TritPlaneTensors(1, 2, 8, 1, TritPacking.BASE3,
                TritPlaneTensors.pack(dense, TritPacking.BASE3).planes(), TritPlaneTensors.pack(dense, TritPacking.BASE3).scales(), null,
                new TritPlaneTensors.Salient(new byte[2], new byte[0], new short[2])));
    }

    @Test
    void oneBitPlanesRefuseZerosAndMasksPastTheRow() {
        QuantizedTensor q = random(1, 2, 8, 8, TritPacking.BASE3, 5); // random codes include t = 0
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TritPlaneTensors.pack(q, TritPacking.BITS1, false));
        assertTrue(e.getMessage().contains("m plane 0") && e.getMessage().contains("t = 0"), e.getMessage());
        boolean[] res = new boolean[10];
        res[1] = true;
        TritPlaneTensors t = TritPlaneTensors.pack(binarized(2, 10, 5, res, 9), TritPacking.BITS1, true);
        byte[] mask = t.columns().clone();
        mask[3] |= 0x10; // plane 1, column 12 of 10
        e = assertThrows(IllegalArgumentException.class,
                () -> new TritPlaneTensors(2, 2, 10, 2, TritPacking.BITS1, t.planes(), t.scales(), mask));
        assertTrue(e.getMessage().contains("past 10"), e.getMessage());
        // a padding bit set in the last byte of a row
        byte[] planes = t.planes().clone();
        planes[1] |= 0x40;
        e = assertThrows(IllegalArgumentException.class,
                () -> new TritPlaneTensors(2, 2, 10, 2, TritPacking.BITS1, planes, t.scales(), t.columns()).unpack("layer.k"));
        assertTrue(e.getMessage().contains("layer.k.trit_planes plane 0") && e.getMessage().contains("padding"), e.getMessage());
    }

    @Test
    void invalidBytesAndScalesAreRefusedNamingTheTensor() {
        QuantizedTensor q = random(2, 4, 10, 5, TritPacking.BASE3, 1);
        TritPlaneTensors t = TritPlaneTensors.pack(q, TritPacking.BASE3);
        byte[] bad = t.planes().clone();
        bad[3] = (byte) 243;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TritPlaneTensors(2, 4, 10, 2, TritPacking.BASE3, bad, t.scales()).unpack("layer.q"));
        assertTrue(e.getMessage().contains("layer.q.trit_planes") && e.getMessage().contains("243"), e.getMessage());
        short[] nan = t.scales().clone();
        nan[5] = (short) 0x7E00;
        e = assertThrows(IllegalArgumentException.class,
                () -> new TritPlaneTensors(2, 4, 10, 2, TritPacking.BASE3, t.planes(), nan).unpack("layer.q"));
        assertTrue(e.getMessage().contains("layer.q.trit_scales"), e.getMessage());
        // a 2-bit code 3, and padding that is not the zero trit
        byte[] two = TritPacking.BITS2.pack(new byte[] {1, 1, 1, 1, 1, 1}, 1, 6);
        byte[] three = two.clone();
        three[0] = (byte) 0xFF;
        assertThrows(IllegalArgumentException.class, () -> TritPacking.BITS2.unpack(three, 1, 6));
        byte[] pad = two.clone();
        pad[1] = (byte) (1 | 1 << 2 | 2 << 4 | 1 << 6);
        assertThrows(IllegalArgumentException.class, () -> TritPacking.BITS2.unpack(pad, 1, 6));
        // truncated data
        assertThrows(IllegalArgumentException.class,
                () -> new TritPlaneTensors(2, 4, 10, 2, TritPacking.BASE3, java.util.Arrays.copyOf(t.planes(), 3), t.scales()));
    }

    @Test
    void onlyTernaryF16TensorsPack() {
        QuantizedTensor q = random(1, 2, 8, 4, TritPacking.BITS2, 2);
        float[] s = q.scales().clone();
        s[0] = 0.1f; // not an f16 value
        QuantizedTensor notF16 = new QuantizedTensor("m", 2, 8, q.scheme(),
                List.of(new QuantizedTensor.Plane(q.codes(), s, null, null, null)), q.gIdx(), 1f);
        assertThrows(IllegalArgumentException.class, () -> TritPlaneTensors.pack(notF16, TritPacking.BITS2));
        QuantizedTensor ints = new QuantizedTensor("m", 1, 4, new dev.lowbit.io.quant.QuantScheme(4, 4, false),
                new byte[4], new float[1], new int[1], new int[4]);
        assertThrows(IllegalArgumentException.class, () -> TritPlaneTensors.pack(ints, TritPacking.BITS2));
    }
}
