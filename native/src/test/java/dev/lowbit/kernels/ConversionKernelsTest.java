package dev.lowbit.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Bulk kernels, vector and scalar, against the scalar references of {@link FloatFormats} and independent checks:
 * every 16-bit pattern, odd lengths and unaligned offsets on both the segment and the array side.
 */
class ConversionKernelsTest {
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int[] LENGTHS = {0, 1, 7, 207, 702};
    /** Encode inputs go in calls of this many elements, so that the kernels get JIT-compiled early instead of running
     *  one huge call in the interpreter (where the Vector API is very slow). */
    private static final int CHUNK = 4096;
    private static final ConversionKernels VECTOR = Kernels.vectorConversions();
    private static final ConversionKernels SCALAR = Kernels.scalarConversions();
    private static final ConversionKernels[] BOTH = {VECTOR, SCALAR};

    /** All 65,536 patterns, written little-endian one byte past an 8-aligned address (so every load is unaligned). */
    private static MemorySegment allPatterns(Arena arena) {
        MemorySegment seg = arena.allocate(2L * 0x10000 + 1, 8).asSlice(1);
        for (int i = 0; i < 0x10000; i++) seg.set(SHORT_LE, 2L * i, (short) i);
        return seg;
    }

    @Test
    void vectorPathIsChosenUnderSurefireFlags() {
        // surefire passes --add-modules jdk.incubator.vector, so on any 128-bit+ machine the SIMD path must be live
        assertTrue(Kernels.conversions().name().startsWith("panama"), Kernels.conversions().name());
    }

    @Test
    void f16ToF32AllPatterns() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = allPatterns(arena);
            for (ConversionKernels k : BOTH) {
                float[] out = new float[0x10000];
                k.f16ToF32(src, 0, out, 0, 0x10000);
                for (int h = 0; h < 0x10000; h++) {
                    int got = Float.floatToRawIntBits(out[h]);
                    if (got != Float.floatToRawIntBits(FloatFormats.f16ToF32((short) h))) fail(k, h);
                    float jdk = Float.float16ToFloat((short) h);
                    if (!Float.isNaN(jdk) && got != Float.floatToRawIntBits(jdk)) fail(k, h);
                }
            }
        }
    }

    @Test
    void bf16ToF32AllPatterns() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = allPatterns(arena);
            for (ConversionKernels k : BOTH) {
                float[] out = new float[0x10000];
                k.bf16ToF32(src, 0, out, 0, 0x10000);
                for (int b = 0; b < 0x10000; b++) {
                    int got = Float.floatToRawIntBits(out[b]);
                    if (got != Float.floatToRawIntBits(FloatFormats.bf16ToF32((short) b)) || got != b << 16) fail(k, b);
                }
            }
        }
    }

    /**
     * Every f32 whose high half is any pattern and whose low half probes the rounding boundaries of bf16 (0x7FFF,
     * 0x8000, 0x8001) and of normal (0x0FFF, 0x1000, 0x1001) and subnormal f16 (high-half variation), plus random ones.
     */
    private static float[] encodeInputs() {
        int[] probes = {0x0000, 0x0FFF, 0x1000, 0x1001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x5A5A, 0xC3A1};
        float[] in = new float[0x10000 * probes.length];
        int n = 0;
        for (int hi = 0; hi < 0x10000; hi++) {
            for (int lo : probes) in[n++] = Float.intBitsToFloat(hi << 16 | lo);
        }
        return in;
    }

    @Test
    void f32ToF16MatchesReferenceAndJdk() {
        float[] in = encodeInputs();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(2L * in.length + 1).asSlice(1);
            for (ConversionKernels k : BOTH) {
                for (int off = 0; off < in.length; off += CHUNK) k.f32ToF16(in, off, dst, 2L * off, Math.min(CHUNK, in.length - off));
                short[] out = new short[in.length];
                MemorySegment.copy(dst, SHORT_LE, 0, out, 0, in.length);
                for (int i = 0; i < in.length; i++) {
                    short got = out[i];
                    if (got != FloatFormats.f32ToF16(in[i])) fail(k, Float.floatToRawIntBits(in[i]));
                    if (!Float.isNaN(in[i]) && got != Float.floatToFloat16(in[i])) fail(k, Float.floatToRawIntBits(in[i]));
                }
            }
        }
    }

    @Test
    void f32ToBf16MatchesReference() {
        float[] in = encodeInputs();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(2L * in.length + 1).asSlice(1);
            for (ConversionKernels k : BOTH) {
                for (int off = 0; off < in.length; off += CHUNK) k.f32ToBf16(in, off, dst, 2L * off, Math.min(CHUNK, in.length - off));
                short[] out = new short[in.length];
                MemorySegment.copy(dst, SHORT_LE, 0, out, 0, in.length);
                for (int i = 0; i < in.length; i++) {
                    if (out[i] != FloatFormats.f32ToBf16(in[i])) fail(k, Float.floatToRawIntBits(in[i]));
                }
            }
        }
    }

    /** Odd lengths at odd byte offsets and non-zero array offsets; bytes and floats outside the range stay untouched. */
    @Test
    void oddLengthsAndUnalignedOffsets() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int n : LENGTHS) {
            for (long segOff : new long[] {0, 1, 3, 6}) {
                for (int arrOff : new int[] {0, 1, 5}) {
                    MemorySegment src = MemorySegment.ofArray(new byte[(int) (segOff + 2L * n + 4)]);
                    for (long b = 0; b < src.byteSize(); b++) src.set(ValueLayout.JAVA_BYTE, b, (byte) rnd.nextInt());
                    for (ConversionKernels k : BOTH) {
                        float[] expectBf = new float[arrOff + n + 3], expectF16 = new float[arrOff + n + 3];
                        for (int i = 0; i < n; i++) {
                            expectBf[arrOff + i] = FloatFormats.bf16ToF32(src.get(SHORT_LE, segOff + 2L * i));
                            expectF16[arrOff + i] = FloatFormats.f16ToF32(src.get(SHORT_LE, segOff + 2L * i));
                        }
                        float[] out = new float[arrOff + n + 3];
                        k.bf16ToF32(src, segOff, out, arrOff, n);
                        assertArrayEquals(bits(expectBf), bits(out), k.name() + " bf16 n=" + n);
                        out = new float[arrOff + n + 3];
                        k.f16ToF32(src, segOff, out, arrOff, n);
                        assertArrayEquals(bits(expectF16), bits(out), k.name() + " f16 n=" + n);

                        float[] x = new float[arrOff + n];
                        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * 100f;
                        byte[] want = new byte[(int) (segOff + 2L * n + 4)];
                        byte[] gotBytes = new byte[want.length];
                        MemorySegment w = MemorySegment.ofArray(want), g = MemorySegment.ofArray(gotBytes);
                        for (int i = 0; i < n; i++) w.set(SHORT_LE, segOff + 2L * i, FloatFormats.f32ToF16(x[arrOff + i]));
                        k.f32ToF16(x, arrOff, g, segOff, n);
                        assertArrayEquals(want, gotBytes, k.name() + " f32→f16 n=" + n);
                        for (int i = 0; i < n; i++) w.set(SHORT_LE, segOff + 2L * i, FloatFormats.f32ToBf16(x[arrOff + i]));
                        k.f32ToBf16(x, arrOff, g, segOff, n);
                        assertArrayEquals(want, gotBytes, k.name() + " f32→bf16 n=" + n);
                    }
                }
            }
        }
    }

    @Test
    void outOfRangeFailsBeforeWriting() {
        for (ConversionKernels k : BOTH) {
            MemorySegment seg = MemorySegment.ofArray(new byte[20]);
            float[] out = new float[16];
            assertThrows(IndexOutOfBoundsException.class, () -> k.bf16ToF32(seg, 2, out, 0, 10));
            assertThrows(IndexOutOfBoundsException.class, () -> k.f16ToF32(seg, 0, out, 8, 10));
            float[] in = new float[16];
            java.util.Arrays.fill(in, 1f);
            assertThrows(IndexOutOfBoundsException.class, () -> k.f32ToBf16(in, 0, seg, 4, 9));
            assertThrows(IndexOutOfBoundsException.class, () -> k.f32ToF16(in, 0, seg, 4, 9));
            for (int b = 0; b < 20; b++) assertEquals(0, seg.get(ValueLayout.JAVA_BYTE, b), k.name());
        }
    }

    private static void fail(ConversionKernels k, int inputBits) {
        org.junit.jupiter.api.Assertions.fail(k.name() + ": wrong result for input 0x" + Integer.toHexString(inputBits));
    }

    private static int[] bits(float[] f) {
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) b[i] = Float.floatToRawIntBits(f[i]);
        return b;
    }
}
