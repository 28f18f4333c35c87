package dev.lowbit.calib.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.model.ModelSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The parts of a Hugging Face {@code config.json} a Llama-family forward needs. Accepts both
 * {@code rope_theta} (transformers ≤ 4) and {@code rope_parameters.rope_theta} (transformers 5), and rope scaling
 * from {@code rope_scaling} or {@code rope_parameters}.
 *
 * <p>(Minimal and local to calibration; to be reconciled with {@code dev.lowbit.io.hf.HfConfig}.)
 */
public record LlamaConfig(Architecture architecture, int hiddenSize, int numLayers, int numHeads, int numKvHeads,
                          int headDim, int intermediateSize, int vocabSize, double rmsNormEps, double ropeTheta,
                          RopeScaling ropeScaling, boolean tieWordEmbeddings) {
    public static final String FILE = "config.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    public LlamaConfig {
        if (hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || numKvHeads <= 0 || headDim <= 0
                || intermediateSize <= 0 || vocabSize <= 0) {
            throw new BadInputException(FILE, "sizes must be positive");
        }
        if (numHeads % numKvHeads != 0) {
            throw new BadInputException(FILE, "num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if (headDim % 2 != 0) throw new BadInputException(FILE, "head_dim " + headDim + " is odd");
    }

    /** Query heads per key/value head (grouped-query attention). */
    public int groupSize() {
        return numHeads / numKvHeads;
    }

    /** Reads {@code config.json} from a model directory (or the file itself); a {@code .gguf} file's synthesised one. */
    public static LlamaConfig fromJson(Path path) {
        if (!Files.exists(path)) throw new BadInputException(path, "no such model directory");
        if (ModelSource.isGguf(path)) {
            try (ModelSource m = ModelSource.open(path)) {
                return of(m);
            }
        }
        Path file = Files.isDirectory(path) ? path.resolve(FILE) : path;
        if (!Files.isRegularFile(file)) throw new BadInputException(file, "missing (a model directory needs config.json)");
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new BadInputException(file, "not valid JSON: " + e.getMessage().split("\n")[0]);
        }
        if (root == null || !root.isObject()) throw new BadInputException(file, "not a JSON object");
        try {
            return parse(root, file.toString());
        } catch (BadInputException e) {
            throw new BadInputException(file, e.getMessage());
        }
    }

    /** The config of a model source (a directory's {@code config.json}, or one synthesised from GGUF metadata). */
    public static LlamaConfig of(ModelSource model) {
        Path p = model.path();
        String source = (Files.isDirectory(p) ? p.resolve(FILE) : p).toString();
        return parse(model.config().raw(), source);
    }

    static LlamaConfig parse(JsonNode root, String source) {
        JsonNode archs = root.get("architectures");
        if (archs == null || !archs.isArray() || archs.isEmpty()) {
            throw new BadInputException(source, "no 'architectures' entry");
        }
        Architecture arch = Architecture.named(archs.get(0).asText(), source);
        int hidden = requiredInt(root, "hidden_size", source);
        int heads = requiredInt(root, "num_attention_heads", source);
        int kvHeads = root.hasNonNull("num_key_value_heads") ? root.get("num_key_value_heads").asInt() : heads;
        int headDim = root.hasNonNull("head_dim") ? root.get("head_dim").asInt() : hidden / heads;
        JsonNode ropeParams = root.get("rope_parameters");
        double theta;
        if (root.hasNonNull("rope_theta")) theta = root.get("rope_theta").asDouble();
        else if (ropeParams != null && ropeParams.hasNonNull("rope_theta")) theta = ropeParams.get("rope_theta").asDouble();
        else theta = 10000.0;
        JsonNode scalingNode = root.hasNonNull("rope_scaling") ? root.get("rope_scaling") : ropeParams;
        boolean tied = root.hasNonNull("tie_word_embeddings") ? root.get("tie_word_embeddings").asBoolean()
                : arch.tiedByDefault();
        return new LlamaConfig(arch, hidden, requiredInt(root, "num_hidden_layers", source), heads, kvHeads, headDim,
                requiredInt(root, "intermediate_size", source), requiredInt(root, "vocab_size", source),
                root.hasNonNull("rms_norm_eps") ? root.get("rms_norm_eps").asDouble() : 1e-6, theta,
                scaling(scalingNode), tied);
    }

    private static RopeScaling scaling(JsonNode n) {
        if (n == null || !n.isObject()) return RopeScaling.NONE;
        String type = n.hasNonNull("rope_type") ? n.get("rope_type").asText()
                : n.hasNonNull("type") ? n.get("type").asText() : "default";
        return new RopeScaling(type, n.path("factor").asDouble(1.0), n.path("low_freq_factor").asDouble(1.0),
                n.path("high_freq_factor").asDouble(4.0), n.path("original_max_position_embeddings").asInt(8192));
    }

    private static int requiredInt(JsonNode root, String key, String source) {
        JsonNode n = root.get(key);
        if (n == null || !n.canConvertToInt()) throw new BadInputException(source, "missing or non-integer '" + key + "'");
        return n.asInt();
    }
}
