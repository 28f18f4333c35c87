package dev.lowbit.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Reading the real tiny-llama-code checkpoint, written by the reference writer (space-padded headers). */
class SafetensorsFileTest {
    @Test
    void readsTinyLlamaCheckpoint() {
        try (TensorSource src = ShardedSafetensors.open(SharedData.tinyLlama())) {
            assertInstanceOf(ShardedSafetensors.class, src);
            assertEquals(57, src.names().size());
            long params = 0;
            for (String name : src.names()) {
                Tensor t = src.tensor(name);
                assertEquals(DType.BF16, t.dtype(), name);
                params += t.elementCount();
            }
            assertEquals(27_269_632L, params);
            assertEquals(Shape.of(8192, 512), src.tensor("model.embed_tokens.weight").shape());
            assertEquals(Shape.of(256, 512), src.tensor("model.layers.3.self_attn.k_proj.weight").shape());
            assertEquals(Shape.of(512, 1536), src.tensor("model.layers.5.mlp.down_proj.weight").shape());
            assertEquals(Map.of("format", "pt"), src.metadata());
            // RMSNorm weights of a trained model are finite and mostly near 1: a decode sanity check, not a tolerance
            float[] norm = src.tensor("model.norm.weight").toFloatArray();
            for (float v : norm) assertTrue(Float.isFinite(v) && v > 0 && v < 10, "norm weight " + v);
        }
    }

    @Test
    void headersAreSpacePaddedToEightAndStillAccepted() throws Exception {
        Path shard1 = SharedData.tinyLlama().resolve("model-00001-of-00005.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(shard1)) {
            long n = f.dataStart() - 8;
            assertEquals(0, n % 8);
            byte[] header = Files.readAllBytes(shard1);
            assertEquals(' ', header[(int) (8 + n - 1)], "the fixture's header ends in padding spaces");
            assertEquals(Files.size(shard1), f.dataStart() + f.entries().values().stream().mapToLong(e -> e.end() - e.begin()).sum());
        }
    }

    @Test
    void tensorsAreZeroCopySlicesInHeaderOrder() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedData.tinyLlama().resolve("model-00005-of-00005.safetensors"))) {
            assertEquals(java.util.List.of("lm_head.weight"), f.names());
            Tensor t = f.tensor("lm_head.weight");
            assertEquals(8192L * 512 * 2, t.byteSize());
            assertTrue(t.data().isMapped());
        }
    }
}
