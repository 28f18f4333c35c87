package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.ptq.rtn.Rtn;
import dev.lowbit.ptq.scheme.ZeroFloor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The zero floor widens only the groups whose min/max zero point is below it, and the widened grid covers them. */
class ZeroFloorTest {
    @Test
    void onlyTheOutlierGroupIsWidenedAndItStillCoversItsRange() {
        int rows = 3, cols = 256;
        SplittableRandom rnd = new SplittableRandom(5);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextGaussian() * 0.05);
        for (int c = 0; c < 128; c++) w[c] = -0.08f + 0.16f * c / 127; // row 0, group 0: a small ramp …
        w[5] = 8.0f;                                                     // … and one outlier
        QuantScheme s = new QuantScheme(4, 128, false);
        QuantizedTensor plain = Rtn.rtn("w", w, rows, cols, s);
        assertEquals(0, plain.zeros()[0], "min/max puts the zero at 0, which GPTQ v1 cannot store");
        ZeroFloor floor = ZeroFloor.gptqV1();
        QuantizedTensor q = Rtn.rtn("w", w, rows, cols, s, null, floor);
        assertEquals(1, floor.count());
        assertEquals(1, q.zeros()[0]);
        float scale = q.scales()[0];
        assertEquals(Math.max(0.08f, 8.0f / 14), scale, 1e-6f, "s = max(−lo/1, hi/(maxq − 1))");
        float[] deq = q.dequantize();
        for (int c = 0; c < 128; c++) {
            assertTrue(Math.abs(deq[c] - w[c]) <= scale / 2 + 1e-6f, "column " + c + " within half a step: nothing clipped");
        }
        for (int i = 1; i < plain.zeros().length; i++) {
            assertEquals(plain.zeros()[i], q.zeros()[i], "group " + i);
            assertEquals(plain.scales()[i], q.scales()[i], "group " + i);
        }
        QuantizedTensor sym = Rtn.rtn("w", w, rows, cols, new QuantScheme(4, 128, true), null, floor);
        assertEquals(1, floor.count(), "symmetric grids are never widened");
        assertEquals(8, sym.zeros()[0]);
    }
}
