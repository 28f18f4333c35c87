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
