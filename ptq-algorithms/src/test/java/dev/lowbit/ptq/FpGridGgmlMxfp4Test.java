package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.ggml.Mxfp4;
import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.ptq.grid.FpGrid;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/**
 * GGUF MXFP4 from the FP grid, proven against ggml's own MXFP4 bytes for 885 rows of real stories260K weights
 * ({@code ggml-ref/m.mxfp4.q}, made by ggml's {@code quantize_row_mxfp4_ref}). The OCP exponent rule is ggml's, so every
 * block's E8M0 byte must be identical; an element code may differ only where x/2^k lies exactly halfway between two
 * E2M1 values (ggml takes the lower table index, OCP rounding the even code) — this data has no such tie, so the file
 * is ggml's byte for byte. The bytes we write decode (ggml's dequantizer) to exactly the grid's values.
 */
class FpGridGgmlMxfp4Test {
    static final int ROWS = 885, COLS = 256;
    static final float[] E2M1 = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f};

    @Test
    void rtnOnTheOcpRuleIsGgmlsMxfp4() throws IOException {
        float[] w = f32(Files.readAllBytes(SharedData.resolve("data/ggml-ref/stories260K_matrices.f32")));
        byte[] ref = Files.readAllBytes(SharedData.resolve("data/ggml-ref/m.mxfp4.q"));
        QuantizedTensor q = FpGrid.rtn("stories260K", w, ROWS, COLS, FloatSchemes.MXFP4, FpGrid.MxExponent.OCP, FpGrid.FourOverSix.OFF, null);
        byte[] ours = Mxfp4.fromQuantized(q);
        assertEquals(ref.length, ours.length);
        int blocks = ROWS * COLS / 32, ties = 0, zeros = 0;
        for (int b = 0; b < blocks; b++) {
            int at = b * 17;
            assertEquals(ref[at], ours[at], "E8M0 byte of block " + b);
            float d = (float) Math.pow(2, (ours[at] & 0xFF) - 127);
            for (int j = 0; j < 32; j++) {
                int a = nibble(ours, at, j), g = nibble(ref, at, j);
                if (a == g) continue;
                float t = w[b * 32 + j] / d;
                if (Math.abs(E2M1[a & 7]) == 0 && Math.abs(E2M1[g & 7]) == 0) {
                    zeros++;
                    continue;
                }
                // a tie: both codes equally near x/d, with the same sign
                double ea = Math.abs(value(a) - t), eg = Math.abs(value(g) - t);
                assertEquals(ea, eg, 0.0, "block " + b + " element " + j + ": " + a + " vs ggml " + g + " for " + t);
                ties++;
            }
        }
        float[] decoded = new float[ROWS * COLS];
        MemorySegment seg = MemorySegment.ofArray(ours);
        for (int r = 0; r < ROWS; r++) Mxfp4.dequantizeRow(seg, (long) r * (COLS / 32) * 17, decoded, r * COLS, COLS);
        float[] mem = q.dequantize();
        for (int i = 0; i < mem.length; i++) assertEquals(mem[i], decoded[i], 0f, "element " + i);
        // no exact tie (and no signed zero: Mxfp4 writes −0 as ggml does) in these 226,560 real weights: byte for byte
        assertEquals(0, ties + zeros, ties + " ties, " + zeros + " signed zeros");
        org.junit.jupiter.api.Assertions.assertArrayEquals(ref, ours);
    }

    static int nibble(byte[] blk, int at, int j) {
        int q = blk[at + 1 + (j % 16)] & 0xFF;
        return j < 16 ? q & 0xF : q >>> 4;
    }

    static double value(int code) {
        return (code & 8) != 0 ? -E2M1[code & 7] : E2M1[code & 7];
    }

    static float[] f32(byte[] b) {
        float[] f = new float[b.length / 4];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }
}
