package dev.lowbit.pipeline.inspect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.safetensors.SafetensorsFile;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads a checkpoint (Hugging Face directory, .safetensors, .gguf) and describes it without decoding any weight. */
public final class ModelInspector {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** config.json keys reported as hyperparameters, in this order, when present. */
    private static final List<String> HYPER_KEYS = List.of(
            "model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings", "rms_norm_eps",
            "hidden_act", "tie_word_embeddings", "attention_bias", "torch_dtype", "dtype", "bos_token_id", "eos_token_id");

    private ModelInspector() {}

    public static InspectReport inspect(Path path) {
        if (!Files.exists(path)) throw new BadInputException(path, "no such file or directory");
        String file = path.getFileName() == null ? "" : path.getFileName().toString();
        if (Files.isRegularFile(path) && file.endsWith(".gguf")) return GgufInspector.inspect(path);
        if (Files.isDirectory(path)) return inspectHfDirectory(path);
        if (file.endsWith(".safetensors")) {
            try (SafetensorsFile f = SafetensorsFile.open(path)) {
                return InspectReport.of(path.toString(), "safetensors", null, Map.of(), rows(f), new LinkedHashMap<>(f.metadata()),
                        Map.of());
            }
        }
        throw new BadInputException(path, "not a model directory, .safetensors or .gguf file");
    }

    private static InspectReport inspectHfDirectory(Path dir) {
        Path cfg = dir.resolve("config.json");
        String arch = null;
        Map<String, Object> hyper = new LinkedHashMap<>();
        if (Files.isRegularFile(cfg)) {
            // the document only (inspect also describes models lowbit does not run), read by the one config reader
            JsonNode root = dev.lowbit.io.hf.HfConfig.readDocument(cfg);
            JsonNode archs = root.get("architectures");
            JsonNode type = root.get("model_type");
            arch = type != null && type.isTextual() ? type.asText() : null;
            if (archs != null && archs.isArray() && !archs.isEmpty()) hyper.put("architectures", archs.get(0).asText());
            for (String k : HYPER_KEYS) {
                JsonNode v = root.get(k);
                if (v != null && !v.isNull()) hyper.put(k, JSON.convertValue(v, Object.class));
            }
            // RoPE: transformers ≤ 4 writes rope_theta (+ rope_scaling); transformers 5 writes rope_parameters.
            JsonNode theta = root.path("rope_parameters").path("rope_theta");
            if (theta.isMissingNode()) theta = root.path("rope_theta");
            if (!theta.isMissingNode()) hyper.put("rope_theta", theta.asDouble());
            JsonNode scaling = root.has("rope_parameters") ? root.get("rope_parameters") : root.get("rope_scaling");
            if (scaling != null && !scaling.isNull()) hyper.put("rope_type", scaling.path("rope_type").asText(scaling.path("type").asText("default")));
        }
        try (TensorSource src = ShardedSafetensors.open(dir)) {
            return InspectReport.of(dir.toString(), "huggingface", arch, hyper, rows(src), new LinkedHashMap<>(src.metadata()),
                    Map.of());
        }
    }

    private static List<InspectReport.TensorRow> rows(TensorSource src) {
        List<InspectReport.TensorRow> rows = new ArrayList<>();
        for (String name : src.names()) {
            Tensor t = src.tensor(name);
            rows.add(new InspectReport.TensorRow(name, t.dtype().wireName(), t.shape().dims(), t.elementCount(), t.byteSize()));
        }
        return rows;
    }
}
