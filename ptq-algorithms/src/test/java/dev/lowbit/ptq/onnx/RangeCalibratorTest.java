package dev.lowbit.ptq.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** ORT's calibrators and scale / zero-point rules, against values worked out from their definitions by hand. */
class RangeCalibratorTest {
    @Test
    void minMaxIsTheObservedRangeOverBatches() {
        RangeCalibrator c = RangeCalibrator.of("minmax");
        c.add(new float[]{1, 2, 3}, 1, 3);
        c.add(new float[]{-0.5f, 7}, 1, 2);
        assertArrayEquals(new double[]{-0.5, 7}, c.range());
        assertThrows(IllegalArgumentException.class, () -> c.add(new float[]{Float.NaN}, 1, 1));
    }

    @Test
    void percentileIsTheLeftEdgeOfTheBinWhereTheCdfReachesP() {
        // |x| = 0..9999, each once: 2048 bins of width 9999/2048 over [0, 9999]; the CDF first reaches 0.99999 only
        // in the last bin (the one before it leaves more than 0.001 % above), whose left edge is 9999·2047/2048
        float[] x = new float[10000];
        for (int i = 0; i < x.length; i++) x[i] = (i % 2 == 0 ? 1 : -1) * i;
        Percentile p = new Percentile(2048, 99.999);
        p.add(x, 1, x.length);
        double t = (float) (9999.0 * 2047 / 2048);
        assertArrayEquals(new double[]{-t, t}, p.range(), 1e-3);
        // at the 50th percentile: the edge of the bin holding the 5000th value, ≈ 4999.5 within one bin width
        Percentile half = new Percentile(2048, 50);
        half.add(x, 1, x.length);
        assertEquals(4999.5, half.range()[1], 9999.0 / 2048);
        // non-negative data (after a ReLU): the symmetric range is clipped to the observed minimum 0
        float[] relu = new float[1000];
        for (int i = 0; i < relu.length; i++) relu[i] = i;
        Percentile r = new Percentile(2048, 99.999);
        r.add(relu, 1, relu.length);
        assertEquals(0, r.range()[0]);
    }

    @Test
    void entropyWithOrtDefaultsIsTheObservedRangeAndWithMoreBinsClipsOutliers() {
        Random rnd = new Random(7);
        float[] x = new float[20000];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        x[0] = 40; // one far outlier
        double min = Double.MAX_VALUE;
        for (float v : x) min = Math.min(min, v);
        // 128 bins, 128 quantized bins: a single candidate, the whole histogram (ALGORITHMS.md §8)
        Entropy e = new Entropy(128, 128);
        e.add(x, 1, x.length);
        assertArrayEquals(new double[]{min, 40}, e.range(), 1e-5);
        // 2048 bins (TensorRT-style): the outlier is cut, the Gaussian bulk (|x| < ~4.5) kept
        Entropy wide = new Entropy(2048, 128);
        wide.add(x, 1, x.length);
        double[] r = wide.range();
        assertTrue(r[1] < 20 && r[1] > 2, java.util.Arrays.toString(r));
    }

    @Test
    void smoothAndKlFollowOrtAndScipy() {
        // p = [0, 2, 2]: one zero gets eps = 1e-4, the two non-zeros give back eps·1/2 each
        double[] s = Entropy.smooth(new long[]{0, 2, 2});
        assertArrayEquals(new double[]{1e-4, 2 - 5e-5, 2 - 5e-5}, s, 1e-7);
        assertEquals(null, Entropy.smooth(new long[]{0, 0}));
        // KL of a distribution with itself is 0; KL([1,1] ‖ [1,3]) = ½ln(½/¼) + ½ln(½/¾)
        assertEquals(0, Entropy.kl(new double[]{1, 2, 3}, new double[]{2, 4, 6}), 1e-12);
        assertEquals(0.5 * Math.log(2) + 0.5 * Math.log(2.0 / 3), Entropy.kl(new double[]{1, 1}, new double[]{1, 3}), 1e-12);
    }

    @Test
    void qdqParamsAsOrtComputesThem() {
        // asymmetric int8 over [-1, 3]: scale 4/255, zero point round(-128 + 1/scale) = round(-64.25) = -64
        QdqParams a = QdqParams.int8(-1, 3, false);
        assertEquals(4f / 255, a.scale(), 1e-9);
        assertEquals(-64, a.zeroPoint());
        // the range is widened to contain 0: [2, 5] → [0, 5], zero point −128
        QdqParams pos = QdqParams.int8(2, 5, false);
        assertEquals(5f / 255, pos.scale(), 1e-9);
        assertEquals(-128, pos.zeroPoint());
        // symmetric: ±max|x|, −127..127, zero point 0
        QdqParams s = QdqParams.int8(-0.5, 2.54, true);
        assertEquals(2.54f / 127, s.scale(), 1e-7);
        assertEquals(0, s.zeroPoint());
        // QuantizeLinear rounds half to even and saturates
        QdqParams one = QdqParams.int8(-127, 127, true);
        assertEquals(2, one.quantize(2.5f));
        assertEquals(-2, one.quantize(-2.5f));
        assertEquals(4, one.quantize(3.5f));
        assertEquals(127, one.quantize(1000f));
        assertEquals(-127, one.quantize(-1000f));
        // an all-zero range: scale 1 (ORT avoids a zero scale)
        assertEquals(1f, QdqParams.int8(0, 0, false).scale());
    }

    @Test
    void perChannelInt8() {
        // 2 channels on axis 0 of a 2×3 weight: scales max|w|/127, codes w/scale rounded half to even
        PerChannelInt8 q = PerChannelInt8.quantize(new float[]{1.27f, -0.635f, 0, 0, 0, 0}, new long[]{2, 3}, 0);
        assertArrayEquals(new float[]{0.01f, 1f}, q.scales(), 1e-8f);
        assertArrayEquals(new byte[]{127, -64, 0, 0, 0, 0}, q.codes()); // −63.5 → −64 (half to even)
        // axis 1 of the same layout: channel = column
        PerChannelInt8 c = PerChannelInt8.quantize(new float[]{1, 2, 4, -1, -2, -4}, new long[]{2, 3}, 1);
        assertArrayEquals(new float[]{1f / 127, 2f / 127, 4f / 127}, c.scales(), 1e-8f);
        assertArrayEquals(new byte[]{127, 127, 127, -127, -127, -127}, c.codes());
    }
}
