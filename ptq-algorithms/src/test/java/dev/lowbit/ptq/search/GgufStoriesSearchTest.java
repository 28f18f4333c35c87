package dev.lowbit.ptq.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * stories260K quantized by llama.cpp against its F32 file: every search (without importance) run on the F32 tensors
 * reproduces llama.cpp's bytes exactly. Moved here from io-formats' {@code GgufStoriesQuantTest} with the searches;
 * the assertion is the one it had there.
 */
class GgufStoriesSearchTest {
    private static Path stories(String variant) {
        return SharedData.root().resolve("data/gguf/stories260K/stories260K-" + variant + ".gguf");
    }

    /**
     * Acceptance check of the k-quant issue: Q8_0 and Q4_0 from an F32 source are byte-identical to llama.cpp's.
     * Every tensor llama-quantize stored in a type we encode is checked, including its fallbacks (F16 for rows of 172
     * elements, Q8_0 for the embeddings, Q5_0 where Q4_K_M's rows are too short for 256-element blocks).
     */
    @ParameterizedTest
    @CsvSource({"Q8_0,32", "Q4_0,31", "Q4_K_M,29"})
    void requantizedF32TensorsMatchLlamaCppBytes(String variant, int expectedQuantized) {
        int quantized = 0;
        try (GgufFile q = GgufFile.open(stories(variant)); GgufFile f32 = GgufFile.open(stories("f32"))) {
            for (GgufTensorInfo t : q.tensorInfos()) {
                if (!GgmlSearches.supports(t.type())) continue;
                GgmlSearch c = GgmlSearches.forType(t.type());
                assertEquals(GgmlType.F32, f32.tensorInfo(t.name()).type());
                float[] x = f32.tensor(t.name()).toFloatArray();
                int row = Math.toIntExact(t.dims()[0]);
                MemorySegment out = MemorySegment.ofArray(new byte[Math.toIntExact(t.byteSize())]);
                long rowBytes = t.type().byteSizeOf(row);
                for (int r = 0; r < x.length / row; r++) c.quantizeRow(x, r * row, row, null, out, r * rowBytes);
                long at = out.mismatch(q.data(t));
                assertEquals(-1L, at, t.name() + " (" + t.type() + "): first differing byte");
                if (t.type() == GgmlType.Q8_0 || t.type() == GgmlType.Q4_0 || t.type() == GgmlType.Q5_0) quantized++;
            }
        }
        assertTrue(quantized >= expectedQuantized, variant + ": compared " + quantized + " quantized tensors");
    }
}
