package dev.lowbit.io.export;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.gguf.GgufArray;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufValueType;

import dev.lowbit.io.BadInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SequencedMap;

import static org.junit.jupiter.api.Assertions.*;

class ExportTokenizerMetadataTest {
    static final Path TINY = SharedData.tinyLlama();

    @Test
    void tinyLlamaCodeTokenizer() {
        TokenizerMetadata t = TokenizerMetadata.fromHuggingFace(TINY);
        assertEquals("gpt2", t.model());
        assertEquals("gpt-2", t.pre());
        assertEquals(8192, t.tokens().size());
        assertEquals(8192, t.tokenTypes().length);
        assertEquals("<|endoftext|>", t.tokens().get(0));
        assertEquals("<|begin_of_text|>", t.tokens().get(1));
        assertEquals("<|pad|>", t.tokens().get(2));
        for (int i = 0; i < 3; i++) assertEquals(TokenizerMetadata.CONTROL, t.tokenTypes()[i], "id " + i);
        for (int i = 3; i < 8192; i++) assertEquals(TokenizerMetadata.NORMAL, t.tokenTypes()[i], "id " + i);
        assertEquals(7933, t.merges().size());
        assertEquals("Ġ Ġ", t.merges().get(0), "pair form [\"Ġ\",\"Ġ\"] becomes \"a b\"");
        assertEquals("ĠĠ ĠĠ", t.merges().get(1));
        for (String m : t.merges()) assertEquals(2, m.split(" ", -1).length, m);
        assertEquals(1L, t.specialTokenIds().get("bos"));
        assertEquals(0L, t.specialTokenIds().get("eos"));
        assertEquals(2L, t.specialTokenIds().get("pad"));
        assertFalse(t.specialTokenIds().containsKey("unk"));
        assertFalse(t.addBos(), "the post-processor adds nothing");
        assertFalse(t.addEos());

        SequencedMap<String, GgufValue> kv = t.toKvs();
        assertEquals(List.of("tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
                "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"),
                List.copyOf(kv.keySet()));
        assertEquals(GgufValueType.STRING, kv.get("tokenizer.ggml.model").type());
        assertEquals(GgufValueType.ARRAY, kv.get("tokenizer.ggml.tokens").type());
        assertEquals(GgufValueType.STRING, kv.get("tokenizer.ggml.tokens").asArray().elementType());
        assertEquals(GgufValueType.INT32, kv.get("tokenizer.ggml.token_type").asArray().elementType());
        assertEquals(GgufValueType.STRING, kv.get("tokenizer.ggml.merges").asArray().elementType());
        assertEquals(GgufValue.ofUint32(1), kv.get("tokenizer.ggml.bos_token_id"));
        assertEquals(GgufValue.ofUint32(0), kv.get("tokenizer.ggml.eos_token_id"));
        assertEquals(GgufValue.ofUint32(2), kv.get("tokenizer.ggml.padding_token_id"));
        assertEquals(GgufValue.ofBool(false), kv.get("tokenizer.ggml.add_bos_token"));
        assertEquals(GgufValueType.UINT32, kv.get("tokenizer.ggml.bos_token_id").type());
        assertEquals(GgufValueType.BOOL, kv.get("tokenizer.ggml.add_bos_token").type());
    }

    /** A small byte-level BPE directory with gaps, a user-defined added token and a BOS-adding post-processor. */
    static Path writeSmall(Path dir, String merges, String postProcessor, String config) throws Exception {
        Files.writeString(dir.resolve("tokenizer.json"), """
                {"version":"1.0","added_tokens":[
                  {"id":0,"content":"<s>","special":true,"normalized":false},
                  {"id":1,"content":"</s>","special":true,"normalized":false},
                  {"id":6,"content":"<|im_start|>","special":false,"normalized":false},
                  {"id":7,"content":"hello world","special":false,"normalized":true}],
                 "normalizer":null,
                 "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true},
                 "post_processor":%s,
                 "decoder":{"type":"ByteLevel"},
                 "model":{"type":"BPE","byte_fallback":false,"vocab":{"<s>":0,"</s>":1,"a":2,"b":3,"ab":4},"merges":%s}}
                """.formatted(postProcessor, merges));
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token":"<s>","eos_token":{"content":"</s>"}}""");
        Files.writeString(dir.resolve("config.json"), config);
        return dir;
    }

    @Test
    void gapsAddedTokensAndPostProcessor(@TempDir Path dir) throws Exception {
        String post = """
                {"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
                 "pair":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}]}""";
        writeSmall(dir, "[\"a b\"]", post, "{\"vocab_size\": 10, \"eos_token_id\": 1, \"pad_token_id\": 3}");
        TokenizerMetadata t = TokenizerMetadata.fromHuggingFace(dir);
        assertEquals(List.of("<s>", "</s>", "a", "b", "ab", "[PAD5]", "<|im_start|>", "hello world", "[PAD8]", "[PAD9]"), t.tokens());
        assertArrayEquals(new int[] {3, 3, 1, 1, 1, 5, 3, 4, 5, 5}, t.tokenTypes(),
                "special → CONTROL, looks special → CONTROL, other added → USER_DEFINED, gaps → UNUSED");
        assertEquals(List.of("a b"), t.merges(), "string merges are kept as they are");
        assertTrue(t.addBos());
        assertFalse(t.addEos());
        assertEquals(0L, t.specialTokenIds().get("bos"));
        assertEquals(1L, t.specialTokenIds().get("eos"));
        assertEquals(3L, t.specialTokenIds().get("pad"), "config.json ids fill what tokenizer_config.json does not name");
    }

    @Test
    void pairMergesWithSpacesAreEncoded(@TempDir Path dir) throws Exception {
        writeSmall(dir, "[[\"a\",\"b\"],[\"a b\",\"c\"]]", "null", "{}");
        TokenizerMetadata t = TokenizerMetadata.fromHuggingFace(dir);
        assertEquals(List.of("a b", "a\u0120b c"), t.merges());
        assertEquals(8, t.tokens().size(), "without config.json vocab_size: max id + 1");
    }

    @Test
    void rejectsWhatItCannotExport(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer.json"), """
                {"model":{"type":"Unigram","vocab":[["<unk>",0.0]]},"pre_tokenizer":{"type":"Metaspace"}}""");
        BadInputException e = assertThrows(BadInputException.class, () -> TokenizerMetadata.fromHuggingFace(dir));
        assertTrue(e.getMessage().contains("SentencePiece"), e.getMessage());

        Files.writeString(dir.resolve("tokenizer.json"), """
                {"model":{"type":"BPE","vocab":{"a":0},"merges":[]},
                 "pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"x"}},
                   {"type":"ByteLevel","use_regex":false}]}}""");
        e = assertThrows(BadInputException.class, () -> TokenizerMetadata.fromHuggingFace(dir));
        assertTrue(e.getMessage().contains("pre-tokenizer"), e.getMessage());
        assertEquals("llama-bpe", TokenizerMetadata.fromHuggingFace(dir, "llama-bpe").pre(), "an explicit name is accepted");

        Files.writeString(dir.resolve("tokenizer.json"), """
                {"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Whitespace"}}""");
        assertThrows(BadInputException.class, () -> TokenizerMetadata.fromHuggingFace(dir));
        assertThrows(BadInputException.class, () -> TokenizerMetadata.fromHuggingFace(dir.resolve("missing")));
    }
}
