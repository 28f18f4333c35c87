package dev.lowbit.ptq.ternary;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lowbit.io.SharedData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Ternary absmax RTN in blocks of 256 is exactly llama.cpp's TQ2_0 (and TQ1_0) rounding. */
class TernaryRtnTest {
    private static float[] floats(Path p) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    @Test
    void matchesGgmlsOwnTq2_0OnRealWeights() throws IOException {
        Path ref = SharedData.root().resolve("data/ggml-ref");
        float[] w = floats(ref.resolve("stories260K_matrices.f32"));
        float[] expected = floats(ref.resolve("m.tq2_0.deq.f32"));
        float[] got = TernaryRtn.quantize("m", w, 885, 256, Ptqtp.scheme(256, 1, 2)).dequantize();
        // ggml dequantizes TQ2_0 as (q − 1) · d with d the f16 absmax: both sides compute the same f32 products
        for (int i = 0; i < got.length; i++) assertEquals(expected[i], got[i], 0f, "element " + i);
    }
}
