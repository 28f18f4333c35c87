package dev.lowbit.io.hf;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The tokenizer-side files of a model directory that an output carries along ({@code tokenizer.json},
 * {@code tokenizer_config.json}, {@code special_tokens_map.json}, {@code generation_config.json}, {@code vocab.json},
 * {@code merges.txt}, {@code tokenizer.model}), checked before they are copied into an artifact a user may publish:
 *
 * <ul>
 *   <li><b>Where it really is.</b> A link is followed only when its target stays inside the model directory's tree.
 *       A Hugging Face cache snapshot ({@code models--org--name/snapshots/<rev>/file → ../../blobs/<hash>}) may
 *       point anywhere inside its {@code models--org--name} repository directory. A link to {@code ~/.ssh/id_rsa}
 *       is refused.</li>
 *   <li><b>What it claims to be.</b> {@code .json} files parse as one JSON object; {@code merges.txt} is UTF-8 text
 *       of {@code a b} pairs (an optional {@code #version} line first); {@code tokenizer.model} is a protobuf
 *       message whose top-level fields are those of sentencepiece's {@code ModelProto} (1–5), walked to its end.</li>
 * </ul>
 * Anything else is bad input naming the file, so nothing unexpected is ever copied.
 */
public final class SideFiles {
    /** The files copied into outputs, in this order, when present. */
    public static final List<String> NAMES = List.of("tokenizer.json", "tokenizer_config.json", "generation_config.json",
            "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt");

    private static final ObjectMapper STRICT_JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private SideFiles() {}

    /** The present side files of {@code modelDir}, each checked; the paths are those inside {@code modelDir}. */
    public static List<Path> verified(Path modelDir) {
        List<Path> out = new ArrayList<>();
        for (String name : NAMES) {
            Path p = modelDir.resolve(name);
            if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) continue;
            Path real = contained(modelDir, p);
            byte[] bytes;
            try {
                bytes = Files.readAllBytes(real);
            } catch (IOException e) {
                throw new BadInputException(p, "cannot read: " + e.getMessage());
            }
            if (name.endsWith(".json")) requireJsonObject(p, bytes);
            else if (name.equals("merges.txt")) requireMerges(p, bytes);
            else if (name.equals("tokenizer.model")) requireSentencePiece(p, bytes);
            out.add(p);
        }
        return out;
    }

    /**
     * The real path of {@code file} (a member of {@code modelDir}), refused unless it is a regular file inside the
     * model's tree (or, for a Hugging Face cache snapshot, inside its repository directory).
     */
    public static Path contained(Path modelDir, Path file) {
        Path root, real;
        try {
            root = modelDir.toRealPath();
            real = file.toRealPath();
        } catch (IOException e) {
            throw new BadInputException(file, "cannot resolve: " + e.getMessage());
        }
        Path allowed = root;
        Path parent = root.getParent();
        if (parent != null && parent.getFileName() != null && parent.getFileName().toString().equals("snapshots")
                && parent.getParent() != null && parent.getParent().getFileName() != null
                && parent.getParent().getFileName().toString().startsWith("models--")) {
            allowed = parent.getParent();
        }
        if (!real.startsWith(allowed)) {
            throw new BadInputException(file, "is a link to " + real + ", outside the model directory; refusing to read "
                    + "or copy it (copy the file into the directory if it belongs to the model)");
        }
        if (!Files.isRegularFile(real)) throw new BadInputException(file, "not a regular file");
        return real;
    }

    private static void requireJsonObject(Path p, byte[] bytes) {
        JsonNode n;
        try (JsonParser parser = STRICT_JSON.createParser(bytes)) {
            n = STRICT_JSON.readTree(parser);
        } catch (IOException e) {
            throw new BadInputException(p, "not valid JSON (" + String.valueOf(e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()).lines().findFirst().orElse("")
                    + "); refusing to copy it into the output");
        }
        if (n == null || !n.isObject()) throw new BadInputException(p, "not a JSON object; refusing to copy it into the output");
    }

    private static void requireMerges(Path p, byte[] bytes) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new BadInputException(p, "not UTF-8 text; refusing to copy it into the output");
        }
        int lineNo = 0;
        for (String line : text.split("\n", -1)) {
            lineNo++;
            if (line.endsWith("\r")) line = line.substring(0, line.length() - 1);
            if (line.isEmpty() || (lineNo == 1 && line.startsWith("#version"))) continue;
            String[] parts = line.split(" ", -1);
            if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
                throw new BadInputException(p, "line " + lineNo + " is not a BPE merge ('a b'); refusing to copy it into the output");
            }
        }
    }

    /** sentencepiece {@code ModelProto}: top-level fields 1 (pieces) … 5 (denormalizer_spec), well-formed to the end. */
    private static void requireSentencePiece(Path p, byte[] b) {
        int at = 0;
        if (b.length == 0) throw new BadInputException(p, "empty; not a sentencepiece model");
        while (at < b.length) {
            long[] tag = varint(b, at, p);
            at = (int) tag[1];
            int field = (int) (tag[0] >>> 3), wire = (int) (tag[0] & 7);
            if (field < 1 || field > 5) throw notSentencePiece(p, "field " + field);
            switch (wire) {
                case 0 -> at = (int) varint(b, at, p)[1];
                case 1 -> at += 8;
                case 5 -> at += 4;
                case 2 -> {
                    long[] len = varint(b, at, p);
                    if (len[0] < 0 || len[0] > b.length - len[1]) throw notSentencePiece(p, "a length past the end");
                    at = (int) (len[1] + len[0]);
                }
                default -> throw notSentencePiece(p, "wire type " + wire);
            }
            if (at > b.length) throw notSentencePiece(p, "a field past the end");
        }
    }

    /** {value, next offset}. */
    private static long[] varint(byte[] b, int at, Path p) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (at >= b.length) throw notSentencePiece(p, "a truncated varint");
            int x = b[at++] & 0xff;
            v |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) return new long[] {v, at};
        }
        throw notSentencePiece(p, "an overlong varint");
    }

    private static BadInputException notSentencePiece(Path p, String what) {
        return new BadInputException(p, "not a sentencepiece model (" + what + "); refusing to copy it into the output");
    }
}
