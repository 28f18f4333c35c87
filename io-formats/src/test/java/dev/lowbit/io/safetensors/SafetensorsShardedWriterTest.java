package dev.lowbit.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.safetensors.SafetensorsWriter.Options;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorSpec;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsShardedWriterTest {
    /** Llama's state_dict order (module registration order), which is what save_pretrained walks when splitting. */
    static List<String> llamaStateDictOrder(int layers) {
        List<String> names = new ArrayList<>(List.of("model.embed_tokens.weight"));
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".";
            for (String m : List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm")) {
                names.add(p + m + ".weight");
            }
        }
        names.add("model.norm.weight");
        names.add("lm_head.weight");
        return names;
    }

    @Test
    void reproducesSavePretrainedShardsAndIndexByteForByte(@TempDir Path dir) throws IOException {
        try (TensorSource src = ShardedSafetensors.open(SharedData.tinyLlama())) {
            List<TensorSpec> specs = llamaStateDictOrder(6).stream().map(n -> TensorSpec.of(src.tensor(n))).toList();
            assertEquals(new HashSet<>(src.names()), new HashSet<>(specs.stream().map(TensorSpec::name).toList()));
            // the fixture was saved with a max_shard_size between 13,107,200 (shard 1) and 14,159,871 bytes (shard 2 + the
            // next tensor); any value in that range gives the same split
            var result = ShardedSafetensorsWriter.write(dir, specs, 13_500_000L, Options.defaults().forTransformers());
            assertEquals(5, result.shards().size());
            assertEquals(54_539_264L, result.totalSize());
            assertEquals(27_269_632L, result.totalParameters());
            Path index = SharedData.tinyLlama().resolve(ShardedSafetensors.INDEX);
            assertEquals(-1L, Files.mismatch(index, result.index()), "index differs");
            for (Path shard : result.shards()) {
                assertEquals(-1L, Files.mismatch(SharedData.tinyLlama().resolve(shard.getFileName()), shard), shard + " differs");
            }
        }
    }

    @Test
    void smallShardsReadBackWithIdenticalTensors(@TempDir Path dir) throws IOException {
        try (TensorSource src = ShardedSafetensors.open(SharedData.tinyLlama())) {
            List<TensorSpec> specs = SafetensorsWriter.specsOf(src);
            // 3 MB: the two 8 MiB embedding matrices exceed it and get shards of their own
            var result = ShardedSafetensorsWriter.write(dir, specs, 3_000_000L, Options.defaults().forTransformers());
            assertTrue(result.shards().size() > 10, "shards: " + result.shards().size());
            String embedShard = result.weightMap().get("model.embed_tokens.weight");
            assertEquals(1, result.weightMap().values().stream().filter(embedShard::equals).count());

            JsonNode idx = new ObjectMapper().readTree(result.index().toFile());
            assertEquals(54_539_264L, idx.get("metadata").get("total_size").asLong());
            assertEquals(57, idx.get("weight_map").size());

            try (TensorSource back = ShardedSafetensors.open(dir)) {
                assertInstanceOf(ShardedSafetensors.class, back);
                assertEquals(new HashSet<>(src.names()), new HashSet<>(back.names()));
                for (String name : src.names()) {
                    Tensor a = src.tensor(name), b = back.tensor(name);
                    assertEquals(a.dtype(), b.dtype(), name);
                    assertEquals(a.shape(), b.shape(), name);
                    assertEquals(-1L, a.data().mismatch(b.data()), name);
                }
                long maxData = ((ShardedSafetensors) back).shards().stream()
                        .filter(f -> f.entries().size() > 1)
                        .mapToLong(f -> f.segment().byteSize() - f.dataStart()).max().orElseThrow();
                assertTrue(maxData <= 3_000_000L, "multi-tensor shard of " + maxData + " bytes");
            }
        }
    }

    @Test
    void oneShardIsASingleModelSafetensorsWithoutIndex(@TempDir Path dir) throws IOException {
        var specs = List.of(SafetensorsWriterTest.spec("a", DType.F32, 10), SafetensorsWriterTest.spec("b", DType.BF16, 10));
        var result = ShardedSafetensorsWriter.write(dir, specs, 1L << 30, Options.defaults().forTransformers());
        assertNull(result.index());
        assertEquals(List.of("model.safetensors"), SafetensorsWriterTest.list(dir));
        try (TensorSource back = ShardedSafetensors.open(dir)) {
            assertEquals(List.of("a", "b"), back.names());
        }
    }

    @Test
    void failureWritesNothing(@TempDir Path dir) throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        for (int i = 0; i < 4; i++) specs.add(SafetensorsWriterTest.spec("t" + i, DType.F32, 100));
        specs.add(new TensorSpec("boom", DType.F32, Shape.of(100), o -> {
            o.write(ByteBuffer.allocate(4));
            throw new IOException("disk on fire");
        }));
        assertThrows(IOException.class, () -> ShardedSafetensorsWriter.write(dir, specs, 800, Options.defaults()));
        assertEquals(List.of(), SafetensorsWriterTest.list(dir));
    }

    @Test
    void refusesToOverwriteAnExistingIndex(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{}");
        var specs = List.of(SafetensorsWriterTest.spec("a", DType.F32, 100), SafetensorsWriterTest.spec("b", DType.F32, 100));
        assertThrows(FileAlreadyExistsException.class, () -> ShardedSafetensorsWriter.write(dir, specs, 400, Options.defaults()));
        assertEquals(List.of("model.safetensors.index.json"), SafetensorsWriterTest.list(dir));
        ShardedSafetensorsWriter.write(dir, specs, 400, Options.defaults().allowOverwrite());
        assertEquals(List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "model.safetensors.index.json"), SafetensorsWriterTest.list(dir));
    }

    @Test
    void indexPointingOutsideTheDirectoryIsRejected(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve(ShardedSafetensors.INDEX), "{\"weight_map\": {\"a\": \"../evil.safetensors\"}}");
        BadInputException e = assertThrows(BadInputException.class, () -> ShardedSafetensors.open(dir));
        assertTrue(e.getMessage().contains("outside the directory"), e.getMessage());
    }

    @Test
    void tensorInTwoShardsIsRejected(@TempDir Path dir) throws IOException {
        var a = List.of(SafetensorsWriterTest.spec("a", DType.F32, 10));
        SafetensorsWriter.write(dir.resolve("s1.safetensors"), a, Options.defaults());
        SafetensorsWriter.write(dir.resolve("s2.safetensors"), a, Options.defaults());
        Files.writeString(dir.resolve(ShardedSafetensors.INDEX), "{\"weight_map\": {\"a\": \"s1.safetensors\"}}");
        // s2 is not in the weight map, so it is never opened: fine. Name it for a second tensor and it must clash.
        Files.writeString(dir.resolve(ShardedSafetensors.INDEX), "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}");
        BadInputException e = assertThrows(BadInputException.class, () -> ShardedSafetensors.open(dir));
        assertTrue(e.getMessage().contains("duplicate tensor 'a'"), e.getMessage());
    }

    @Test
    void indexEntryThatIsNotAStringIsRejected(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve(ShardedSafetensors.INDEX), "{\"weight_map\": {\"a\": {}}}");
        BadInputException e = assertThrows(BadInputException.class, () -> ShardedSafetensors.open(dir));
        assertTrue(e.getMessage().contains("'a' is not a file name"), e.getMessage());
    }

    @Test
    void parsesShardSizes() {
        assertEquals(5_000_000_000L, ShardedSafetensorsWriter.parseSize("5GB"));
        assertEquals(2L << 30, ShardedSafetensorsWriter.parseSize("2GiB"));
        assertEquals(1_500_000L, ShardedSafetensorsWriter.parseSize("1.5 MB"));
        assertEquals(123L, ShardedSafetensorsWriter.parseSize("123"));
    }
}
