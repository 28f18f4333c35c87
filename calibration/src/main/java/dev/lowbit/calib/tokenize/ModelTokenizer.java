package dev.lowbit.calib.tokenize;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.model.ModelSource;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model's {@code tokenizer.json} through DJL's Hugging Face tokenizers binding, with <b>no special tokens
 * added</b>, no truncation and no padding: the evaluation protocol tokenizes a whole file as one string.
 *
 * <p>Texts longer than {@link #CHUNK_CHARS} are cut into pieces only right after a {@code '\n'} that follows a
 * non-space character and precedes a letter: byte-level BPE pre-tokenizers (GPT-2 and Llama 3 regexes) always
 * end a piece there, so the concatenated ids equal those of the whole string.
 */
public final class ModelTokenizer implements AutoCloseable {
    public static final String FILE = "tokenizer.json";
    static final int CHUNK_CHARS = 8 << 20;
    private static final Map<String, String> OPTIONS = Map.of(
            "addSpecialTokens", "false", "truncation", "false", "padding", "false",
            "modelMaxLength", Integer.toString(Integer.MAX_VALUE));

    private final HuggingFaceTokenizer tokenizer;

    private ModelTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * Loads {@code tokenizer.json} from a model directory, or the file itself; for a {@code .gguf} file, the tokenizer
     * synthesised from its metadata.
     */
    public static ModelTokenizer open(Path modelDir) {
        if (ModelSource.isGguf(modelDir)) {
            try (ModelSource m = ModelSource.open(modelDir)) {
                return open(m);
            }
        }
        Path file = Files.isDirectory(modelDir) ? modelDir.resolve(FILE) : modelDir;
        if (!Files.isRegularFile(file)) throw new BadInputException(file, "missing (the model needs a tokenizer.json)");
        try {
            return new ModelTokenizer(HuggingFaceTokenizer.newInstance(file, OPTIONS));
        } catch (IOException | RuntimeException e) {
            throw new BadInputException(file, "cannot load tokenizer: " + e.getMessage());
        }
    }

    /** The tokenizer of a model source: its {@code tokenizer.json} file, or the JSON it synthesises (GGUF). */
    public static ModelTokenizer open(ModelSource model) {
        if (model.tokenizerFile().isPresent()) return open(model.tokenizerFile().get());
        String json = model.tokenizerJson();
        try (InputStream in = new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8))) {
            return new ModelTokenizer(HuggingFaceTokenizer.newInstance(in, OPTIONS));
        } catch (IOException | RuntimeException e) {
            throw new BadInputException(model.path(), "cannot load the tokenizer synthesised from its metadata: " + e.getMessage());
        }
    }

    /** Token ids of {@code text}, no special tokens. */
    public int[] encode(String text) {
        if (text.length() <= CHUNK_CHARS) return ids(text);
        IntList out = new IntList(text.length() / 3);
        int start = 0;
        while (start < text.length()) {
            int end = cut(text, start + CHUNK_CHARS);
            out.addAll(ids(text.substring(start, end)));
            start = end;
        }
        return out.toArray();
    }

    private int[] ids(String text) {
        Encoding e = tokenizer.encode(text, false, false);
        long[] ids = e.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = Math.toIntExact(ids[i]);
        return out;
    }

    /**
     * The id the tokenizer puts in front of a text when asked to add special tokens (its BOS), if any:
     * llama.cpp's protocol writes it over each window's first token.
     */
    public java.util.OptionalInt bosToken() {
        long[] with = tokenizer.encode("a", true, false).getIds();
        long[] without = tokenizer.encode("a", false, false).getIds();
        if (with.length > without.length && with.length > 0 && (without.length == 0 || with[0] != without[0])) {
            return java.util.OptionalInt.of(Math.toIntExact(with[0]));
        }
        return java.util.OptionalInt.empty();
    }

    /** First safe cut at or after {@code from}, or the end of the text. */
    static int cut(String text, int from) {
        for (int i = Math.max(from, 2); i < text.length(); i++) {
            if (text.charAt(i - 1) == '\n' && !Character.isWhitespace(text.charAt(i - 2)) && Character.isLetter(text.charAt(i))) {
                return i;
            }
        }
        return text.length();
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    private static final class IntList {
        private int[] a;
        private int n;

        IntList(int capacity) {
            a = new int[Math.max(16, capacity)];
        }

        void addAll(int[] v) {
            if (n + v.length > a.length) a = java.util.Arrays.copyOf(a, Math.max(a.length * 2, n + v.length));
            System.arraycopy(v, 0, a, n, v.length);
            n += v.length;
        }

        int[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }
    }
}
