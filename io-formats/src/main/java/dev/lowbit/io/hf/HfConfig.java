package dev.lowbit.io.hf;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The fields of a Hugging Face {@code config.json} that lowbit's decoder-only (Llama family) pipeline needs, with
 * transformers' names and defaults, plus the whole document as {@link #raw()} for anything else.
 *
 * <p>Defaults (those of {@code LlamaConfig}, shared by Mistral and Qwen2/3): {@code num_key_value_heads} = heads,
 * {@code head_dim} = hidden / heads, {@code rms_norm_eps} 1e-6, {@code max_position_embeddings} 2048,
 * {@code tie_word_embeddings} false, {@code attention_bias} false, rope theta 10000. Rope theta is read from the
 * top-level {@code rope_theta} (transformers 4) or from {@code rope_parameters.rope_theta} (transformers 5); scaling
 * from {@code rope_scaling} or {@code rope_parameters}. Architecture names are kept as data, never interpreted here.
 *
 * @param architectures  {@code architectures}, e.g. {@code LlamaForCausalLM}; empty when absent
 * @param modelType      {@code model_type}; empty when absent
 * @param dtype          {@code dtype} (transformers 5) or {@code torch_dtype} (4), e.g. {@code bfloat16}; null when absent
 * @param bosTokenIds    {@code bos_token_id} as a list (it may be a number or a list); empty when absent or null
 * @param eosTokenIds    {@code eos_token_id} likewise
 */
public record HfConfig(List<String> architectures, String modelType, int hiddenSize, int intermediateSize,
                       int numHiddenLayers, int numAttentionHeads, int numKeyValueHeads, int headDim,
                       double rmsNormEps, int vocabSize, int maxPositionEmbeddings, boolean tieWordEmbeddings,
                       boolean attentionBias, double ropeTheta, RopeScaling ropeScaling, String dtype,
                       List<Integer> bosTokenIds, List<Integer> eosTokenIds, JsonNode raw) {
    public static final double DEFAULT_ROPE_THETA = 10_000.0;

    // Python's json module writes NaN/Infinity for non-finite floats; accept them like transformers does.
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    public HfConfig {
        architectures = List.copyOf(architectures);
        bosTokenIds = List.copyOf(bosTokenIds);
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    /** The first bos id, or −1. */
    public int bosTokenId() {
        return bosTokenIds.isEmpty() ? -1 : bosTokenIds.getFirst();
    }

    /** The first eos id, or −1. */
    public int eosTokenId() {
        return eosTokenIds.isEmpty() ? -1 : eosTokenIds.getFirst();
    }

    /** Query heads per key/value head (1 without GQA). */
    public int groupSize() {
        return numAttentionHeads / numKeyValueHeads;
    }

    /** Reads and validates {@code config.json}; every problem is a {@link BadInputException} naming the file. */
    public static HfConfig read(Path configJson) {
        return read(configJson, archs -> {});
    }

    /**
     * Reads {@code config.json}, handing {@code architectures} to {@code architectureCheck} before anything else is
     * validated, so that a caller supporting only some families names the unsupported one first.
     */
    public static HfConfig read(Path configJson, java.util.function.Consumer<List<String>> architectureCheck) {
        return parse(readText(configJson), configJson.toString(), architectureCheck);
    }

    /**
     * The document only, parsed by the same rules but without checking the model fields: for readers that need a
     * few keys of a file that may describe a model lowbit does not run (tokenizer ids, {@code vocab_size}).
     */
    public static JsonNode readDocument(Path configJson) {
        JsonNode root = document(readText(configJson), configJson.toString());
        return root;
    }

    private static String readText(Path configJson) {
        if (java.nio.file.Files.exists(configJson)) dev.lowbit.io.InputFiles.requireRegular(configJson, "config");
        String text;
        try {
            text = Files.readString(configJson);
        } catch (NoSuchFileException e) {
            throw new BadInputException(configJson, "not found (a Hugging Face model directory needs config.json)");
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new BadInputException(configJson, "not valid UTF-8");
        } catch (IOException e) {
            throw new BadInputException(configJson, "cannot read: " + e.getMessage());
        }
        return text;
    }

    /** Parses config.json text; {@code source} names the file in errors. */
    public static HfConfig parse(String json, String source) {
        return parse(json, source, archs -> {});
    }

    private static HfConfig parse(String json, String source, java.util.function.Consumer<List<String>> architectureCheck) {
        JsonNode root = document(json, source);
        Fields f = new Fields(root, source);
        // a lowbit-dequantized checkpoint hides its family from other tools; its real one is recorded beside
        List<String> architectures = LowbitDequantized.architectures(root, f.stringList("architectures"), source);
        architectureCheck.accept(architectures);

        int hidden = f.requiredInt("hidden_size");
        int layers = f.requiredInt("num_hidden_layers");
        int heads = f.requiredInt("num_attention_heads");
        int vocab = f.requiredInt("vocab_size");
        int kvHeads = f.optionalInt("num_key_value_heads", heads);
        if (kvHeads <= 0 || heads % kvHeads != 0) {
            throw new BadInputException(source, "num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        Integer headDimField = f.optionalInt("head_dim");
        if (headDimField == null && hidden % heads != 0) {
            throw new BadInputException(source, "hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads
                    + " and head_dim is not given");
        }
        int headDim = headDimField != null ? headDimField : hidden / heads;
        if (headDim <= 0) throw new BadInputException(source, "head_dim must be positive, got " + headDim);

        JsonNode ropeParameters = ropeParameters(root);
        double theta = DEFAULT_ROPE_THETA;
        if (present(root.get("rope_theta"))) theta = f.number(root.get("rope_theta"), "rope_theta");
        else if (ropeParameters != null && present(ropeParameters.get("rope_theta"))) {
            theta = f.number(ropeParameters.get("rope_theta"), "rope_parameters.rope_theta");
        }
        if (!(theta > 0) || Double.isInfinite(theta)) throw new BadInputException(source, "rope theta must be positive, got " + theta);

        JsonNode scalingNode = root.get("rope_scaling");
        String scalingKey = "rope_scaling";
        if (!present(scalingNode)) {
            scalingNode = ropeParameters;
            scalingKey = "rope_parameters";
        }
        RopeScaling scaling = ropeScaling(f, scalingNode, scalingKey);

        double eps = f.optionalDouble("rms_norm_eps", 1e-6);
        if (!(eps >= 0) || Double.isInfinite(eps)) throw new BadInputException(source, "rms_norm_eps must be a finite number ≥ 0, got " + eps);
        int maxPositions = f.optionalInt("max_position_embeddings", 2048);
        if (maxPositions <= 0) throw new BadInputException(source, "max_position_embeddings must be positive, got " + maxPositions);
        Integer intermediate = f.optionalInt("intermediate_size");
        if (intermediate != null && intermediate <= 0) {
            throw new BadInputException(source, "intermediate_size must be positive, got " + intermediate);
        }

        return new HfConfig(
                architectures,
                f.optionalString("model_type", ""),
                hidden,
                intermediate == null ? 0 : intermediate,
                layers, heads, kvHeads, headDim,
                eps,
                vocab,
                maxPositions,
                f.optionalBoolean("tie_word_embeddings", false),
                f.optionalBoolean("attention_bias", false),
                theta,
                scaling,
                present(root.get("dtype")) ? f.optionalString("dtype", null) : f.optionalString("torch_dtype", null),
                f.intList("bos_token_id"),
                f.intList("eos_token_id"),
                root);
    }

    private static JsonNode document(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            String m = String.valueOf(e.getMessage());
            throw new BadInputException(source, "not valid JSON: " + m.lines().findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) throw new BadInputException(source, "not a JSON object");
        return root;
    }

    /** {@code rope_parameters}, or its {@code full_attention} entry when it is keyed by layer type (Gemma-style). */
    private static JsonNode ropeParameters(JsonNode root) {
        JsonNode rp = root.get("rope_parameters");
        if (!present(rp) || !rp.isObject()) return null;
        if (!rp.has("rope_type") && !rp.has("rope_theta") && rp.path("full_attention").isObject()) {
            return rp.get("full_attention");
        }
        return rp;
    }

    private static RopeScaling ropeScaling(Fields f, JsonNode n, String key) {
        if (!present(n)) return RopeScaling.NONE;
        if (!n.isObject()) throw new BadInputException(f.source, key + " must be an object, got " + show(n));
        JsonNode type = present(n.get("rope_type")) ? n.get("rope_type") : n.get("type");
        String ropeType = present(type) ? f.text(type, key + ".rope_type") : "default";
        return new RopeScaling(ropeType,
                optionalNumber(f, n, "factor", key),
                optionalNumber(f, n, "low_freq_factor", key),
                optionalNumber(f, n, "high_freq_factor", key),
                present(n.get("original_max_position_embeddings"))
                        ? f.integer(n.get("original_max_position_embeddings"), key + ".original_max_position_embeddings")
                        : 0);
    }

    private static double optionalNumber(Fields f, JsonNode n, String field, String key) {
        JsonNode v = n.get(field);
        return present(v) ? f.number(v, key + "." + field) : Double.NaN;
    }

    /** A JSON value for an error message: one line, at most 80 characters. */
    private static String show(JsonNode n) {
        String s = n.toString().replace('\n', ' ');
        return s.length() > 80 ? s.substring(0, 80) + "…" : s;
    }

    private static boolean present(JsonNode n) {
        return n != null && !n.isNull() && !n.isMissingNode();
    }

    /** Typed access to top-level fields with errors that name the field and the file. */
    private record Fields(JsonNode root, String source) {
        int requiredInt(String key) {
            JsonNode n = root.get(key);
            if (!present(n)) throw new BadInputException(source, "missing " + key);
            int v = integer(n, key);
            if (v <= 0) throw new BadInputException(source, key + " must be positive, got " + v);
            return v;
        }

        Integer optionalInt(String key) {
            JsonNode n = root.get(key);
            return present(n) ? integer(n, key) : null;
        }

        int optionalInt(String key, int dflt) {
            Integer v = optionalInt(key);
            return v == null ? dflt : v;
        }

        double optionalDouble(String key, double dflt) {
            JsonNode n = root.get(key);
            return present(n) ? number(n, key) : dflt;
        }

        boolean optionalBoolean(String key, boolean dflt) {
            JsonNode n = root.get(key);
            if (!present(n)) return dflt;
            if (!n.isBoolean()) throw new BadInputException(source, key + " must be true or false, got " + show(n));
            return n.booleanValue();
        }

        String optionalString(String key, String dflt) {
            JsonNode n = root.get(key);
            return present(n) ? text(n, key) : dflt;
        }

        List<String> stringList(String key) {
            JsonNode n = root.get(key);
            if (!present(n)) return List.of();
            if (!n.isArray()) throw new BadInputException(source, key + " must be a list of strings, got " + show(n));
            List<String> out = new ArrayList<>();
            for (JsonNode e : n) out.add(text(e, key + " entry"));
            return out;
        }

        List<Integer> intList(String key) {
            JsonNode n = root.get(key);
            if (!present(n)) return List.of();
            if (!n.isArray()) return List.of(integer(n, key));
            List<Integer> out = new ArrayList<>();
            for (JsonNode e : n) out.add(integer(e, key + " entry"));
            return out;
        }

        int integer(JsonNode n, String key) {
            if (!n.isIntegralNumber() || !n.canConvertToInt()) {
                throw new BadInputException(source, key + " must be an integer, got " + show(n));
            }
            return n.intValue();
        }

        double number(JsonNode n, String key) {
            if (!n.isNumber()) throw new BadInputException(source, key + " must be a number, got " + show(n));
            return n.doubleValue();
        }

        String text(JsonNode n, String key) {
            if (!n.isTextual()) throw new BadInputException(source, key + " must be a string, got " + show(n));
            return n.textValue();
        }
    }
}
