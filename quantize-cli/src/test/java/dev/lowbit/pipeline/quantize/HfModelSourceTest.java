package dev.lowbit.pipeline.quantize;

import static org.junit.jupiter.api.Assertions.*;

import dev.lowbit.cli.Main;
import dev.lowbit.io.hf.DequantizingSource;
import dev.lowbit.io.model.HfModelSource;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.tensor.TensorSource;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A written GPTQ checkpoint read as a {@link ModelSource}: every tensor, whole or a few rows at a time, equals what
 * {@link DequantizingSource} (the reader {@code lowbit evaluate} used before) gives, and the config is the directory's.
 */
class HfModelSourceTest {
    @TempDir
    Path tmp;

    @Test
    void aGptqCheckpointReadsAsItsDequantizedWeights() {
        Path out = tmp.resolve("w4");
        assertEquals(0, Main.execute("quantize", QuantizePipelineTest.MODEL.toString(), "-o", out.toString(), "--method", "rtn",
                "--bits", "4", "--group-size", "128", "-q"));
        try (ModelSource m = ModelSource.open(out); TensorSource want = DequantizingSource.openDirectory(out)) {
            assertInstanceOf(HfModelSource.class, m);
            assertEquals("LlamaForCausalLM", m.architecture());
            assertEquals(512, m.config().hiddenSize());
            assertTrue(m.tokenizerJson().contains("\"merges\""));
            assertEquals(want.names(), m.tensorNames());
            for (String name : List.of("model.layers.2.mlp.down_proj.weight", "model.embed_tokens.weight", "model.norm.weight")) {
                float[] w = want.tensor(name).toFloatArray();
                assertArrayEquals(want.tensor(name).shape().dims(), m.shape(name), name);
                assertArrayEquals(w, m.readAll(name), 0f, name);
                int len = m.rowLength(name);
                long rows = m.rowCount(name);
                float[] tail = new float[len];
                m.readRows(name, rows - 1, 1, tail, 0);
                for (int i = 0; i < len; i++) assertEquals(w[(int) ((rows - 1) * len) + i], tail[i], 0f, name);
            }
            assertThrows(IllegalArgumentException.class, () -> m.readRows("model.norm.weight", 1, 1, new float[512], 0));
        }
    }
}
