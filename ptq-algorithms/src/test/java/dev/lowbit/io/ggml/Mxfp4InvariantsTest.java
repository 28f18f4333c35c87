package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lowbit.io.ggml.KQuantRefData.Codec;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Invariants of the MXFP4 codec and ggml's choices in it (exponent, ties, denormal scales). */
class Mxfp4InvariantsTest {
    static final Codec C = KQuantGgmlRefTest.codecs().filter(c -> c.name().equals("mxfp4")).findFirst().orElseThrow();

    @Test
    void zeroRowHasExponentZero() {
        assertEquals(0, KQuantBits.u8(KQuantInvariants.quantize(C, new float[32], null), 0), "e = 0 for amax = 0");
    }

    /** A constant power of two is exact (the shared tolerances are in CodecInvariantsTest). */
    @Test
    void constantPowerOfTwoIsExact() {
        KQuantInvariants.constantRow(C, 0.5f, 0f);
    }

    private static int exponentOf(float amax) {
        float[] x = new float[32];
        x[5] = amax;
        return KQuantBits.u8(KQuantInvariants.quantize(C, x, null), 0);
    }

    /** e = floor(log2f(amax)) − 2 + 127, with log2f's f32 rounding just below a power of two. */
    @Test
    void exponentIsFloorLog2MinusTwo() {
        assertEquals(127 - 2, exponentOf(1f));
        assertEquals(127 - 2 + 2, exponentOf(6f));
        assertEquals(127 - 2 - 1, exponentOf(0.75f));
        assertEquals(127 - 2 - 3, exponentOf(0.125f));
        // 0.125·(1 − 2⁻²⁴): log2 = −3 − 8.6e-8, which rounds to −3.0 in f32, so floor gives −3, not −4
        assertEquals(127 - 2 - 3, exponentOf(Math.nextDown(0.125f)));
        // 1 − 2⁻²⁴: log2 = −8.6e-8 is representable, floor −1
        assertEquals(127 - 2 - 1, exponentOf(Math.nextDown(1f)));
    }

    /** Exact midpoints take the lower index; zero and −0 and tiny negatives encode as nibble 0. */
    @Test
    void tiesGoToTheLowerIndex() {
        float[] x = new float[32];
        x[0] = 6f;    // amax 6: e = floor(log2 6) − 2 + 127 = 127, d = 2^−1: grid 0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6
        x[1] = 2.5f;  // between 2 (index 4) and 3 (index 5)
        x[2] = -2.5f; // between −2 (index 12) and −3 (index 13)
        x[3] = -0.0f;
        x[4] = -0.1f; // nearer 0 than −0.5; index 0 (+0) and 8 (−0) tie
        x[5] = 0.25f; // between 0 and 0.5
        MemorySegment q = KQuantInvariants.quantize(C, x, null);
        assertEquals(127, KQuantBits.u8(q, 0));
        int[] nib = new int[32];
        for (int j = 0; j < 16; j++) {
            nib[j] = KQuantBits.u8(q, 1 + j) & 0xF;
            nib[j + 16] = KQuantBits.u8(q, 1 + j) >> 4;
        }
        assertEquals(7, nib[0]);
        assertEquals(4, nib[1]);
        assertEquals(12, nib[2]);
        assertEquals(0, nib[3]);
        assertEquals(0, nib[4]);
        assertEquals(0, nib[5]);
    }

    /** The scale 2^(e−128) is exact for every byte, through the f32 denormals for e &lt; 2; 0xFF is no NaN. */
    @Test
    void scaleDecodesEveryByte() {
        for (int e = 0; e < 256; e++) assertEquals(Math.scalb(1.0, e - 128), Mxfp4.e8m0Half(e), 0.0, "e=" + e);
        MemorySegment q = MemorySegment.ofArray(new byte[17]);
        q.fill((byte) 0x11);
        q.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 0xFF);
        float[] y = KQuantInvariants.dequantize(C, q, 32);
        float[] want = new float[32];
        Arrays.fill(want, 0x1p127f);
        org.junit.jupiter.api.Assertions.assertArrayEquals(want, y);
    }
}
