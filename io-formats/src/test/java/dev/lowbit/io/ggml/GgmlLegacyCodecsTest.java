package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Bit-exact checks of the legacy block codecs against ggml's own bytes on 885 rows of real weights. */
class GgmlLegacyCodecsTest {
    private static final float[] X = GgmlRef.matrices();

    @ParameterizedTest
    @CsvSource({"Q8_0,q8_0", "Q4_0,q4_0", "Q4_1,q4_1", "Q5_0,q5_0", "Q5_1,q5_1"})
    void quantizerReproducesGgmlBytes(GgmlType type, String file) {
        BlockCodec c = BlockCodecs.forType(type);
        byte[] expected = GgmlRef.quantized(file);
        int rowBytes = (int) c.rowBytes(GgmlRef.ROW_LENGTH);
        assertEquals((long) GgmlRef.ROWS * rowBytes, expected.length, "reference size");
        MemorySegment out = MemorySegment.ofArray(new byte[expected.length]);
        for (int r = 0; r < GgmlRef.ROWS; r++) {
            c.quantizeRow(X, r * GgmlRef.ROW_LENGTH, GgmlRef.ROW_LENGTH, out, (long) r * rowBytes);
        }
        byte[] got = out.toArray(ValueLayout.JAVA_BYTE);
        for (int i = 0; i < got.length; i++) {
            if (got[i] != expected[i]) {
                int block = i / type.typeSize();
                fail(type + ": first difference at byte " + i + " (row " + i / rowBytes + ", block " + block
                        + ", byte " + i % type.typeSize() + "): got " + (got[i] & 0xFF) + ", ggml " + (expected[i] & 0xFF));
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"Q8_0,q8_0", "Q4_0,q4_0", "Q4_1,q4_1", "Q5_0,q5_0", "Q5_1,q5_1"})
    void dequantizerReproducesGgmlFloats(GgmlType type, String file) {
        BlockCodec c = BlockCodecs.forType(type);
        MemorySegment q = MemorySegment.ofArray(GgmlRef.quantized(file));
        float[] expected = GgmlRef.dequantized(file);
        float[] got = new float[expected.length];
        int rowBytes = (int) c.rowBytes(GgmlRef.ROW_LENGTH);
        for (int r = 0; r < GgmlRef.ROWS; r++) {
            c.dequantizeRow(q, (long) r * rowBytes, got, r * GgmlRef.ROW_LENGTH, GgmlRef.ROW_LENGTH);
        }
        for (int i = 0; i < got.length; i++) {
            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(expected[i])) {
                fail(type + ": element " + i + " decodes to " + got[i] + ", ggml gives " + expected[i]);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"F32", "F16", "BF16"})
    void floatTypesRoundTrip(GgmlType type) {
        BlockCodec c = BlockCodecs.forType(type);
        int n = 207;
        MemorySegment buf = MemorySegment.ofArray(new byte[(int) c.rowBytes(n)]);
        c.quantizeRow(X, 5, n, buf, 0);
        float[] y = new float[n];
        c.dequantizeRow(buf, 0, y, 0, n);
        for (int i = 0; i < n; i++) {
            float want = switch (type) {
                case F32 -> X[5 + i];
                case F16 -> Float.float16ToFloat(Float.floatToFloat16(X[5 + i]));
                default -> Float.intBitsToFloat((Float.floatToRawIntBits(X[5 + i]) + 0x7FFF
                        + (Float.floatToRawIntBits(X[5 + i]) >>> 16 & 1)) & 0xFFFF0000);
            };
            assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(y[i]), type + " element " + i);
        }
    }

    /**
     * Offsets are honoured and the round-trip error stays within a step on an awkward row length (7 blocks) of seeded
     * Gaussian data with an outlier. Bound: |x − deq| ≤ step·(1/2 + qmax·2^−11) for the fp16-rounded scale, except the
     * one clamped level of Q4_0/Q5_0 (the side opposite the signed max), which may be off by a whole step.
     */
    @ParameterizedTest
    @CsvSource({"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"})
    void offsetsAndErrorBoundOnAwkwardRows(GgmlType type) {
        BlockCodec c = BlockCodecs.forType(type);
        java.util.Random rnd = new java.util.Random(42);
        int n = 7 * 32;
        float[] x = new float[3 + n];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        x[3 + 100] = 9f;
        MemorySegment atOffset = MemorySegment.ofArray(new byte[5 + (int) c.rowBytes(n)]);
        c.quantizeRow(x, 3, n, atOffset, 5);
        MemorySegment plain = MemorySegment.ofArray(new byte[(int) c.rowBytes(n)]);
        c.quantizeRow(java.util.Arrays.copyOfRange(x, 3, x.length), 0, n, plain, 0);
        assertEquals(-1L, atOffset.asSlice(5).mismatch(plain), "same bytes at an offset");
        float[] y = new float[2 + n];
        c.dequantizeRow(atOffset, 5, y, 2, n);
        for (int b = 0; b < 7; b++) {
            float lo = Float.MAX_VALUE, hi = -Float.MAX_VALUE;
            for (int j = 0; j < 32; j++) {
                lo = Math.min(lo, x[3 + 32 * b + j]);
                hi = Math.max(hi, x[3 + 32 * b + j]);
            }
            float amax = Math.max(-lo, hi);
            float step = switch (type) {
                case Q8_0 -> amax / 127;
                case Q4_0 -> amax / 8;
                case Q5_0 -> amax / 16;
                case Q4_1 -> (hi - lo) / 15;
                default -> (hi - lo) / 31;
            };
            boolean clamps = type == GgmlType.Q4_0 || type == GgmlType.Q5_0;
            float bound = step * ((clamps ? 1f : 0.5f) + 127 * 0x1p-11f) + Math.abs(lo) * 0x1p-11f + 1e-6f;
            for (int j = 0; j < 32; j++) {
                int i = 32 * b + j;
                float err = Math.abs(x[3 + i] - y[2 + i]);
                if (err > bound) fail(type + " element " + i + ": error " + err + " > " + bound);
            }
        }
    }

    @Test
    void zeroBlockQuantizesToZeroScale() {
        for (GgmlType t : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1}) {
            BlockCodec c = BlockCodecs.forType(t);
            MemorySegment buf = MemorySegment.ofArray(new byte[t.typeSize()]);
            c.quantizeRow(new float[32], 0, 32, buf, 0);
            float[] y = new float[32];
            c.dequantizeRow(buf, 0, y, 0, 32);
            for (float v : y) assertEquals(0f, Math.abs(v), t.toString()); // Q4_0/Q5_0 give -0: d = 0/-8
        }
    }

    @Test
    void partialBlockAndUnsupportedTypeAreRejected() {
        BlockCodec c = BlockCodecs.forType(GgmlType.Q4_0);
        assertThrows(IllegalArgumentException.class,
                () -> c.quantizeRow(new float[40], 0, 40, MemorySegment.ofArray(new byte[64]), 0));
        assertThrows(UnsupportedOperationException.class, () -> BlockCodecs.forType(GgmlType.IQ2_XXS));
    }
}
