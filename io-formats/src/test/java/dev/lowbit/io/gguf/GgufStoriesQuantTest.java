package dev.lowbit.io.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlRef;
import dev.lowbit.io.ggml.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * stories260K quantized by llama.cpp (Q8_0, Q4_0) against its F32 file: our dequantizer stays within the quantization
 * step, and the writer's quantize-on-write reproduces llama.cpp's bytes exactly (the same check for every searched
 * type, Q4_K_M's included, is ptq-algorithms' {@code GgufStoriesSearchTest}).
 */
class GgufStoriesQuantTest {
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static Path stories(String variant) {
        return SharedData.root().resolve("data/gguf/stories260K/stories260K-" + variant + ".gguf");
    }

    /**
     * Error bound per element, from the block's stored fp16 scale d16. The quantizer rounds x·(1/d) with the f32 d, so
     * |q·d − x| ≤ d/2, and decoding with d16 adds |q|·|d16 − d| ≤ qmax·d·2^−11 (fp16 has 11 significant bits).
     * Q4_0 clamps q = 16 to 15 on the side opposite the signed max, which costs up to a whole step there.
     */
    @ParameterizedTest
    @CsvSource({"Q8_0", "Q4_0"})
    void dequantizedTensorsStayWithinHalfAStep(GgmlType type) {
        int checked = 0;
        try (GgufFile q = GgufFile.open(stories(type.name())); GgufFile f32 = GgufFile.open(stories("f32"))) {
            for (GgufTensorInfo t : q.tensorInfos()) {
                if (t.type() != type) continue;
                float[] ref = f32.tensor(t.name()).toFloatArray();
                float[] got = q.dequantize(t.name()).toFloatArray();
                MemorySegment raw = q.data(t);
                int qmax = type == GgmlType.Q8_0 ? 127 : 8;
                for (int i = 0; i < got.length; i++) {
                    long block = i / 32;
                    float d = Math.abs(Float.float16ToFloat(raw.get(SHORT_LE, block * type.typeSize())));
                    float err = Math.abs(got[i] - ref[i]);
                    float bound = d / 2 + qmax * d * 0x1p-11f + 1e-7f;
                    boolean clampedSide = type == GgmlType.Q4_0 && quantAt(raw, i) == 15;
                    if (err > (clampedSide ? d + bound : bound)) {
                        fail(t.name() + "[" + i + "]: |" + got[i] + " − " + ref[i] + "| = " + err + " > " + bound + " (d=" + d + ")");
                    }
                }
                checked++;
            }
        }
        assertTrue(checked >= 7, "expected several " + type + " tensors, checked " + checked);
    }

    private static int quantAt(MemorySegment raw, int i) {
        int block = i / 32, j = i % 32;
        int b = raw.get(ValueLayout.JAVA_BYTE, block * 18L + 2 + (j % 16)) & 0xFF;
        return j < 16 ? b & 0xF : b >>> 4;
    }

    /** The writer's quantize-on-write path: F32 stories260K written as Q8_0 / Q4_0 holds llama.cpp's bytes. */
    @ParameterizedTest
    @CsvSource({"Q8_0", "Q4_0"})
    void writerQuantizesF32SourceLikeLlamaCpp(GgmlType type, @TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.gguf");
        try (GgufFile q = GgufFile.open(stories(type.name())); GgufFile f32 = GgufFile.open(stories("f32"))) {
            GgufWriter w = new GgufWriter();
            q.kv().forEach(w::put);
            for (GgufTensorInfo t : q.tensorInfos()) w.addTensor(t.name(), t.type(), f32.tensor(t.name()));
            w.write(out);
            try (GgufFile g = GgufFile.open(out)) {
                assertEquals(q.tensorInfos(), g.tensorInfos());
            }
        }
        // every tensor type in these files has a codec, so the whole file is llama-quantize's output byte for byte
        assertEquals(-1L, Files.mismatch(stories(type.name()), out), "first differing byte");
    }
}
