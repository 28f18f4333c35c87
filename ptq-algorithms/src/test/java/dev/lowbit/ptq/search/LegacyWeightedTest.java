package dev.lowbit.ptq.search;

import static org.junit.jupiter.api.Assertions.*;

import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlType;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The importance-weighted legacy quantizers (llama-quantize's {@code quantize_row_q4_0_impl} & co.; byte-identical to
 * llama-quantize --imatrix on tiny-llama-code, see the GGUF pipeline's measurements). Here: invariants — without
 * weights they are the reference codecs, with weights they lower the weighted error they optimise, and heavily
 * weighted columns come out more exact.
 */
class LegacyWeightedTest {
    @Test
    void weightsLowerTheWeightedError() {
        SplittableRandom rnd = new SplittableRandom(3);
        int n = 512, rows = 64;
        float[] imp = new float[n];
        for (int i = 0; i < n; i++) imp[i] = (float) Math.pow(rnd.nextDouble(), 3) * 10 + 1e-3f;
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_1, GgmlType.Q5_1}) {
            BlockCodec c = BlockCodecs.forType(t);
            GgmlSearch s = GgmlSearches.forType(t);
            assertTrue(s.usesImportance(), t.name());
            double errRef = 0, errW = 0;
            for (int r = 0; r < rows; r++) {
                float[] x = new float[n];
                for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * 0.03);
                MemorySegment a = MemorySegment.ofArray(new byte[(int) c.rowBytes(n)]);
                MemorySegment b = MemorySegment.ofArray(new byte[(int) c.rowBytes(n)]);
                MemorySegment plain = MemorySegment.ofArray(new byte[(int) c.rowBytes(n)]);
                c.quantizeRow(x, 0, n, a, 0);
                s.quantizeRow(x, 0, n, imp, b, 0);
                s.quantizeRow(x, 0, n, null, plain, 0);
                assertEquals(-1L, a.mismatch(plain), t + ": null importance is the reference quantizer");
                float[] ya = new float[n], yb = new float[n];
                c.dequantizeRow(a, 0, ya, 0, n);
                c.dequantizeRow(b, 0, yb, 0, n);
                for (int i = 0; i < n; i++) {
                    errRef += imp[i] * (ya[i] - x[i]) * (ya[i] - x[i]);
                    errW += imp[i] * (yb[i] - x[i]) * (yb[i] - x[i]);
                }
            }
            assertTrue(errW < 0.9 * errRef, t + ": weighted error " + errW + " vs reference " + errRef);
        }
    }
}
