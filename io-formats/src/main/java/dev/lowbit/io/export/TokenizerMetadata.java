package dev.lowbit.io.export;

import dev.lowbit.io.gguf.GgufArray;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufValueType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.io.BadInputException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * The {@code tokenizer.*} GGUF metadata of a Hugging Face model directory ({@code tokenizer.json},
 * {@code tokenizer_config.json}, {@code config.json}), following llama.cpp's {@code convert_hf_to_gguf.py}
 * ({@code get_vocab_base}, {@code _set_vocab_gpt2}) and gguf-py's {@code SpecialVocab}.
 *
 * <p>Supported: byte-level BPE ({@code model.type} BPE with a ByteLevel pre-tokenizer) → {@code tokenizer.ggml.model}
 * = {@code gpt2}. SentencePiece-style tokenizers (Unigram, or BPE with {@code byte_fallback}) are rejected.
 *
 * <p>Token types ({@code llama_token_type}): 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
 * Ids below {@code vocab_size} with no token become {@code [PAD<id>]}, UNUSED; added tokens marked {@code special}, or
 * looking special ({@code <|…|>}, {@code <pad>}, {@code <mask>}, {@code <2mass>}, {@code [@BOS@]}), are CONTROL; other
 * added tokens USER_DEFINED; the rest NORMAL.
 *
 * <p>Pre-tokenizer: the converter names it by hashing the token ids of a test string against known models, so it
 * fails for any tokenizer it has not seen (tiny-llama-code included). We identify it by structure instead: a lone
 * ByteLevel pre-tokenizer with {@code use_regex} (the default) applies exactly the GPT-2 regex, llama.cpp's
 * {@code gpt-2}. Any other pre-tokenizer needs an explicit name ({@link #fromHuggingFace(Path, String)}).
 *
 * <p>One deliberate difference from the converter: {@code add_bos_token}/{@code add_eos_token} are always written
 * (false when neither {@code tokenizer_config.json} nor the post-processor adds the token), so llama.cpp adds
 * exactly what the Hugging Face tokenizer adds whatever default its pre-tokenizer type carries.
 */
public record TokenizerMetadata(String model, String pre, List<String> tokens, int[] tokenTypes, List<String> merges,
                                Map<String, Long> specialTokenIds, boolean addBos, boolean addEos, String chatTemplate) {

    public static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

    /** gguf-py's special token types and their GGUF keys (note llama.cpp's spelling {@code seperator}). */
    private static final SequencedMap<String, String> SPECIAL_KEYS = new LinkedHashMap<>();

    static {
        SPECIAL_KEYS.put("bos", "tokenizer.ggml.bos_token_id");
        SPECIAL_KEYS.put("eos", "tokenizer.ggml.eos_token_id");
        SPECIAL_KEYS.put("unk", "tokenizer.ggml.unknown_token_id");
        SPECIAL_KEYS.put("sep", "tokenizer.ggml.seperator_token_id");
        SPECIAL_KEYS.put("pad", "tokenizer.ggml.padding_token_id");
        SPECIAL_KEYS.put("cls", "tokenizer.ggml.cls_token_id");
        SPECIAL_KEYS.put("mask", "tokenizer.ggml.mask_token_id");
    }

    private static final List<String> LOOKS_SPECIAL = List.of("<pad>", "<mask>", "<2mass>", "[@BOS@]");
    private static final ObjectMapper JSON = new ObjectMapper();

    public TokenizerMetadata {
        tokens = List.copyOf(tokens);
        merges = List.copyOf(merges);
        specialTokenIds = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(specialTokenIds));
    }

    /** Reads a model directory, naming the pre-tokenizer from its structure. */
    public static TokenizerMetadata fromHuggingFace(Path dir) {
        return fromHuggingFace(dir, null);
    }

    /**
     * Reads a model directory.
     *
     * @param preOverride the {@code tokenizer.ggml.pre} name to write, or {@code null} to derive it
     */
    public static TokenizerMetadata fromHuggingFace(Path dir, String preOverride) {
        Path tokFile = dir.resolve("tokenizer.json");
        JsonNode tok = readJson(tokFile, true);
        JsonNode tcfg = readJson(dir.resolve("tokenizer_config.json"), false);
        Path cfgFile = dir.resolve("config.json");
        JsonNode cfg = Files.isRegularFile(cfgFile) ? dev.lowbit.io.hf.HfConfig.readDocument(cfgFile) : null;

        JsonNode model = tok.path("model");
        String type = model.path("type").asText("");
        if (type.equals("Unigram") || (type.equals("BPE") && model.path("byte_fallback").asBoolean(false))) {
            throw new BadInputException(tokFile, "SentencePiece-style tokenizer (" + type
                    + (type.equals("BPE") ? " with byte_fallback" : "") + ") is not supported for GGUF export yet; only byte-level BPE");
        }
        if (!type.equals("BPE")) throw new BadInputException(tokFile, "tokenizer model type '" + type + "' cannot be exported to GGUF");
        JsonNode preTok = tok.path("pre_tokenizer");
        if (!hasByteLevel(preTok)) {
            throw new BadInputException(tokFile, "BPE tokenizer without a ByteLevel pre-tokenizer is not byte-level BPE; cannot export it as gpt2");
        }
        if (!tok.path("normalizer").isNull() && !tok.path("normalizer").isMissingNode()) {
            throw new BadInputException(tokFile, "byte-level BPE with a normalizer (" + tok.path("normalizer").path("type").asText()
                    + ") is not supported: llama.cpp's gpt2 tokenizer applies none");
        }
        String pre = preOverride != null ? preOverride : preTokenizerName(tokFile, preTok);

        // vocab: model.vocab plus added_tokens (added content wins for an id present in both)
        Map<Integer, String> byId = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            byId.put(e.getValue().asInt(), e.getKey());
        }
        Map<Integer, JsonNode> added = new HashMap<>();
        for (JsonNode a : tok.path("added_tokens")) {
            added.put(a.path("id").asInt(), a);
            byId.put(a.path("id").asInt(), a.path("content").asText());
        }
        int maxId = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1);
        int vocabSize = cfg != null && cfg.path("vocab_size").canConvertToInt() ? cfg.path("vocab_size").asInt() : maxId + 1;
        if (maxId >= vocabSize) {
            throw new BadInputException(tokFile, "token id " + maxId + " is not below config.json vocab_size " + vocabSize);
        }
        List<String> tokens = new ArrayList<>(vocabSize);
        int[] types = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            String t = byId.get(i);
            if (t == null) {
                tokens.add("[PAD" + i + "]");
                types[i] = UNUSED;
            } else if (added.containsKey(i)) {
                boolean special = added.get(i).path("special").asBoolean(false) || looksSpecial(t);
                tokens.add(special ? t : t.replace("\u2581", " "));
                types[i] = special ? CONTROL : USER_DEFINED;
            } else {
                tokens.add(t);
                types[i] = NORMAL;
            }
        }

        List<String> merges = merges(tokFile, model.path("merges"));

        // special token ids: tokenizer_config.json's *_token strings looked up in added_tokens, then config.json ids
        Map<String, Long> ids = new LinkedHashMap<>();
        Map<String, Boolean> addSpecial = new HashMap<>();
        if (tcfg != null) {
            for (String typ : SPECIAL_KEYS.keySet()) {
                JsonNode add = tcfg.path("add_" + typ + "_token");
                if (add.isBoolean()) addSpecial.put(typ, add.asBoolean());
                JsonNode entry = tcfg.path(typ + "_token");
                String content = entry.isTextual() ? entry.asText() : entry.path("content").isTextual() ? entry.path("content").asText() : null;
                if (content == null) continue;
                for (JsonNode a : tok.path("added_tokens")) {
                    if (a.path("content").asText().equals(content)) {
                        putSpecial(ids, typ, a.path("id").asLong(), vocabSize, tokFile);
                        break;
                    }
                }
            }
        }
        if (cfg != null) {
            for (String typ : SPECIAL_KEYS.keySet()) {
                JsonNode id = cfg.path(typ + "_token_id");
                if (id.isIntegralNumber()) putSpecial(ids, typ, id.asLong(), vocabSize, dir.resolve("config.json"));
            }
        }
        // a simple TemplateProcessing post-processor: a special token first adds BOS, last adds EOS
        JsonNode post = tok.path("post_processor");
        List<JsonNode> procs = new ArrayList<>();
        if (post.path("processors").isArray()) post.path("processors").forEach(procs::add);
        else if (post.isObject()) procs.add(post);
        for (JsonNode p : procs) {
            if (!p.path("type").asText().equals("TemplateProcessing")) continue;
            JsonNode single = p.path("single");
            if (single.size() > 1) {
                String first = single.get(0).path("SpecialToken").path("id").asText(null);
                String last = single.get(single.size() - 1).path("SpecialToken").path("id").asText(null);
                if (first != null && !addSpecial.containsKey("bos")) addSpecial.put("bos", first.equals(contentOf(tok, ids.get("bos"))));
                if (last != null && !addSpecial.containsKey("eos")) addSpecial.put("eos", last.equals(contentOf(tok, ids.get("eos"))));
            }
        }
        String chat = tcfg != null && tcfg.path("chat_template").isTextual() ? tcfg.path("chat_template").asText() : null;
        return new TokenizerMetadata("gpt2", pre, tokens, types, merges, ids,
                addSpecial.getOrDefault("bos", false), addSpecial.getOrDefault("eos", false), chat);
    }

    /** The metadata as GGUF key-values with their exact types, in the converter's order. */
    public SequencedMap<String, GgufValue> toKvs() {
        SequencedMap<String, GgufValue> kv = new LinkedHashMap<>();
        kv.put("tokenizer.ggml.model", GgufValue.ofString(model));
        kv.put("tokenizer.ggml.pre", GgufValue.ofString(pre));
        kv.put("tokenizer.ggml.tokens", GgufValue.ofStrings(tokens));
        kv.put("tokenizer.ggml.token_type", GgufValue.ofArray(GgufArray.ofInt32(tokenTypes.clone())));
        if (!merges.isEmpty()) kv.put("tokenizer.ggml.merges", GgufValue.ofStrings(merges));
        for (Map.Entry<String, String> e : SPECIAL_KEYS.entrySet()) {
            Long id = specialTokenIds.get(e.getKey());
            if (id != null) kv.put(e.getValue(), GgufValue.ofUint32(id));
        }
        kv.put("tokenizer.ggml.add_bos_token", GgufValue.ofBool(addBos));
        kv.put("tokenizer.ggml.add_eos_token", GgufValue.ofBool(addEos));
        if (chatTemplate != null) kv.put("tokenizer.chat_template", GgufValue.ofString(chatTemplate));
        return kv;
    }

    private static void putSpecial(Map<String, Long> ids, String typ, long id, int vocabSize, Path file) {
        if (id < 0) throw new BadInputException(file, "invalid " + typ + " token id " + id);
        if (id < vocabSize) ids.putIfAbsent(typ, id);
    }

    private static String contentOf(JsonNode tok, Long id) {
        if (id == null) return null;
        for (JsonNode a : tok.path("added_tokens")) {
            if (a.path("id").asLong() == id) return a.path("content").asText();
        }
        return null;
    }

    private static boolean looksSpecial(String t) {
        return LOOKS_SPECIAL.contains(t) || (t.startsWith("<|") && t.endsWith("|>"));
    }

    private static boolean hasByteLevel(JsonNode pre) {
        if (pre.path("type").asText().equals("ByteLevel")) return true;
        for (JsonNode p : pre.path("pretokenizers")) {
            if (hasByteLevel(p)) return true;
        }
        return false;
    }

    /** {@code gpt-2} for a lone ByteLevel pre-tokenizer applying its own (GPT-2) regex; otherwise an error. */
    private static String preTokenizerName(Path file, JsonNode pre) {
        if (pre.path("type").asText().equals("ByteLevel") && pre.path("use_regex").asBoolean(true)) return "gpt-2";
        throw new BadInputException(file, "cannot identify the pre-tokenizer (" + pre.path("type").asText()
                + ") as one llama.cpp implements; pass its llama.cpp name (tokenizer.ggml.pre) explicitly");
    }

    /** Merges as {@code "a b"} strings; pair form {@code ["a","b"]} has spaces inside parts encoded as U+0120, like gguf-py. */
    private static List<String> merges(Path file, JsonNode node) {
        List<String> out = new ArrayList<>(node.size());
        for (JsonNode m : node) {
            if (m.isTextual()) {
                out.add(m.asText());
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                out.add(m.get(0).asText().replace(' ', '\u0120') + " " + m.get(1).asText().replace(' ', '\u0120'));
            } else {
                throw new BadInputException(file, "unknown tokenizer merges format at merge " + out.size());
            }
        }
        return out;
    }

    private static JsonNode readJson(Path file, boolean required) {
        if (!Files.isRegularFile(file)) {
            if (required) throw new BadInputException(file, "not found");
            return null;
        }
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new BadInputException(file.toString(), "invalid JSON: " + e.getMessage(), e);
        }
    }
}
