package dev.lowbit.io.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Bulk decode through the kernels equals element-by-element {@link Tensor#getFloat}, at odd offsets and lengths. */
class DecodeTest {

    @Test
    void bulkDecodeEqualsElementDecode() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
            int n = 702;
            byte[] bytes = new byte[2 * n];
            for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) rnd.nextInt();
            Tensor t = new Tensor("w", dtype, Shape.of(2, 351), MemorySegment.ofArray(bytes));
            for (int from : new int[] {0, 1, 13, 351}) {
                for (int count : new int[] {0, 1, 7, 207, n - 351}) {
                    float[] out = new float[count + 3];
                    t.toFloats(from, out, 3, count);
                    for (int i = 0; i < count; i++) {
                        assertEquals(Float.floatToRawIntBits(t.getFloat(from + i)), Float.floatToRawIntBits(out[3 + i]),
                                dtype + " at " + (from + i));
                    }
                }
            }
        }
    }
}
