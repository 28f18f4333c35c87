package dev.lowbit.pipeline.inspect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.io.SharedData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class ModelInspectorTest {
    static final Path SHARED = SharedData.root();

    @Test
    void tinyLlamaCode() {
        InspectReport r = ModelInspector.inspect(SHARED.resolve("models/tiny-llama-code"));
        assertEquals(57, r.tensorCount());
        assertEquals(27_269_632L, r.parameterCount());
        assertEquals(2 * 27_269_632L, r.totalBytes());
        assertTrue(r.tensors().stream().allMatch(t -> t.type().equals("BF16")));
        assertEquals("llama", r.architecture());
        assertEquals(512, r.hyperparameters().get("hidden_size"));
        assertEquals(4, r.hyperparameters().get("num_key_value_heads"));
        assertEquals(10000.0, r.hyperparameters().get("rope_theta"));
        assertTrue(InspectRenderer.json(r).contains("\"parameter_count\" : 27269632"));
    }

    /**
     * Every shared GGUF is read completely: {@code metadata} in the JSON report holds exactly the header's key count
     * (read here from the raw header bytes, independently of the reader) and no derived keys; version and tensor data
     * offset appear under {@code gguf}; the token list is as long as the vocabulary (its token_type list).
     */
    @Test
    void everySharedGguf() throws IOException {
        List<Path> files;
        try (Stream<Path> s = Stream.concat(Files.list(SHARED.resolve("data/gguf")), Files.list(SHARED.resolve("data/gguf/stories260K")))) {
            files = s.filter(p -> p.toString().endsWith(".gguf")).sorted().toList();
        }
        assertTrue(files.size() >= 14);
        for (Path f : files) {
            ByteBuffer head = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
            try (FileChannel ch = FileChannel.open(f)) {
                ch.read(head, 0);
            }
            int version = head.getInt(4);
            long tensorCount = head.getLong(8), kvCount = head.getLong(16);
            InspectReport r = ModelInspector.inspect(f);
            JsonNode json = new ObjectMapper().readTree(InspectRenderer.json(r));
            assertEquals(kvCount, json.get("metadata").size(), f + ": metadata keys in the JSON report");
            assertEquals(kvCount, r.metadata().size(), f + ": metadata keys");
            json.get("metadata").fieldNames().forEachRemaining(k -> assertFalse(k.startsWith("gguf."), f + ": derived key " + k));
            assertEquals(version, json.get("gguf").get("version").asInt(), f.toString());
            // the data section starts at the next multiple of the alignment after the header; a file without tensors
            // may end before it (llama.cpp writes no trailing padding then)
            long offset = json.get("gguf").get("tensor_data_offset").asLong(), align = json.get("gguf").get("alignment").asLong();
            assertTrue(offset > 24 && offset < Files.size(f) + align && offset % align == 0, f + ": data offset " + offset);
            assertEquals(tensorCount, r.tensorCount(), f.toString());
            Object tokens = r.metadata().get("tokenizer.ggml.tokens");
            if (tokens != null) {
                long n = ((Number) ((Map<?, ?>) tokens).get("length")).longValue();
                Object types = r.metadata().get("tokenizer.ggml.token_type");
                assertEquals(((Number) ((Map<?, ?>) types).get("length")).longValue(), n, f.toString());
                Object vocab = r.hyperparameters().get("vocab_size");
                if (vocab != null) assertEquals(((Number) vocab).longValue(), n, f.toString());
            }
        }
    }
}
