package dev.lowbit.io.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufValue;
import java.util.List;

/**
 * Synthesises a Hugging Face {@code tokenizer.json} from a GGUF's {@code tokenizer.ggml.*} metadata, so that the
 * Hugging Face tokenizers library (through DJL) tokenizes exactly as the model was trained.
 *
 * <p>Supported: {@code tokenizer.ggml.model = gpt2} (byte-level BPE) with {@code tokenizer.ggml.pre = gpt-2} (the
 * ByteLevel pre-tokenizer with its own GPT-2 regex). Vocabulary = {@code tokens} by id; merges = {@code merges}
 * ({@code "a b"}, in rank order); tokens of type CONTROL (3) become special added tokens, USER_DEFINED (4) plain
 * added tokens; {@code add_bos_token} becomes a post-processor that prepends BOS. Other pre-tokenizers (llama-bpe,
 * qwen2, …) need their split regexes and are refused by name.
 */
public final class GgufTokenizerJson {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CONTROL = 3, USER_DEFINED = 4;

    private GgufTokenizerJson() {}

    /** The {@code tokenizer.json} text. */
    public static String synthesize(GgufFile f) {
        String model = string(f, "tokenizer.ggml.model");
        if (!model.equals("gpt2")) {
            throw new BadInputException(f.path(), "tokenizer.ggml.model '" + model + "': only gpt2 (byte-level BPE) can be rebuilt");
        }
        GgufValue preV = f.get("tokenizer.ggml.pre");
        String pre = preV == null ? "default" : preV.asString();
        if (!pre.equals("gpt-2") && !pre.equals("default")) {
            throw new BadInputException(f.path(), "tokenizer.ggml.pre '" + pre + "': only the gpt-2 pre-tokenizer can be rebuilt");
        }
        List<String> tokens = array(f, "tokenizer.ggml.tokens").asStrings();
        GgufValue typesV = f.get("tokenizer.ggml.token_type");
        int[] types = typesV == null ? new int[tokens.size()] : typesV.asArray().asInts();
        GgufValue mergesV = f.get("tokenizer.ggml.merges");
        List<String> merges = mergesV == null ? List.of() : mergesV.asArray().asStrings();

        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int id = 0; id < tokens.size(); id++) {
            if (types[id] != CONTROL && types[id] != USER_DEFINED) continue;
            ObjectNode a = added.addObject();
            a.put("id", id);
            a.put("content", tokens.get(id));
            a.put("single_word", false);
            a.put("lstrip", false);
            a.put("rstrip", false);
            a.put("normalized", false);
            a.put("special", types[id] == CONTROL);
        }
        root.putNull("normalizer");
        ObjectNode preTok = root.putObject("pre_tokenizer");
        byteLevel(preTok, false, true);
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        GgufValue addBos = f.get("tokenizer.ggml.add_bos_token");
        GgufValue bos = f.get("tokenizer.ggml.bos_token_id");
        boolean withBos = addBos != null && addBos.asBool() && bos != null;
        ArrayNode single = post.putArray("single");
        ArrayNode pair = post.putArray("pair");
        ObjectNode specials = JSON.createObjectNode();
        if (withBos) {
            String b = tokens.get(bos.asInt());
            single.addObject().putObject("SpecialToken").put("id", b).put("type_id", 0);
            pair.addObject().putObject("SpecialToken").put("id", b).put("type_id", 0);
            ObjectNode s = specials.putObject(b);
            s.put("id", b);
            s.putArray("ids").add(bos.asInt());
            s.putArray("tokens").add(b);
        }
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        if (withBos) pair.addObject().putObject("SpecialToken").put("id", tokens.get(bos.asInt())).put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        post.set("special_tokens", specials);
        byteLevel(root.putObject("decoder"), true, true);
        ObjectNode bpe = root.putObject("model");
        bpe.put("type", "BPE");
        bpe.putNull("dropout");
        bpe.putNull("unk_token");
        bpe.putNull("continuing_subword_prefix");
        bpe.putNull("end_of_word_suffix");
        bpe.put("fuse_unk", false);
        bpe.put("byte_fallback", false);
        bpe.put("ignore_merges", false);
        ObjectNode vocab = bpe.putObject("vocab");
        for (int id = 0; id < tokens.size(); id++) {
            if (vocab.has(tokens.get(id))) throw new BadInputException(f.path(), "token '" + tokens.get(id) + "' appears twice");
            vocab.put(tokens.get(id), id);
        }
        ArrayNode m = bpe.putArray("merges");
        for (String merge : merges) {
            int sp = merge.indexOf(' ');
            if (sp <= 0 || sp == merge.length() - 1 || merge.indexOf(' ', sp + 1) >= 0) {
                throw new BadInputException(f.path(), "merge '" + merge + "' is not two tokens separated by one space");
            }
            m.addArray().add(merge.substring(0, sp)).add(merge.substring(sp + 1));
        }
        return root.toString();
    }

    private static void byteLevel(ObjectNode n, boolean addPrefixSpace, boolean trimOffsets) {
        n.put("type", "ByteLevel");
        n.put("add_prefix_space", addPrefixSpace);
        n.put("trim_offsets", trimOffsets);
        n.put("use_regex", true);
    }

    private static String string(GgufFile f, String key) {
        GgufValue v = f.get(key);
        if (v == null) throw new BadInputException(f.path(), "no " + key + ": the GGUF carries no tokenizer");
        return v.asString();
    }

    private static dev.lowbit.io.gguf.GgufArray array(GgufFile f, String key) {
        GgufValue v = f.get(key);
        if (v == null) throw new BadInputException(f.path(), "no " + key + ": the GGUF carries no tokenizer");
        return v.asArray();
    }
}
