package dev.lowbit.calib.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.io.BadInputException;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Text for calibration or evaluation: a plain UTF-8 file as it is, or JSON Lines ({@code .jsonl}) whose records'
 * {@code text} fields are joined with {@code "\n\n"} (blank lines skipped).
 */
public final class TextDataset {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TextDataset() {}

    public static String read(Path file) {
        if (!Files.isRegularFile(file)) throw new BadInputException(file, "no such file");
        try {
            return file.getFileName().toString().endsWith(".jsonl") ? readJsonl(file) : Files.readString(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new BadInputException(file, "not valid UTF-8 text");
        } catch (IOException e) {
            throw new BadInputException(file, "cannot read: " + e.getMessage());
        }
    }

    private static String readJsonl(Path file) throws IOException {
        StringBuilder out = new StringBuilder();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) continue;
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                } catch (IOException e) {
                    throw new BadInputException(file, "line " + lineNo + ": not valid JSON");
                }
                JsonNode text = node == null ? null : node.get("text");
                if (text == null || !text.isTextual()) throw new BadInputException(file, "line " + lineNo + ": no string field 'text'");
                if (!out.isEmpty()) out.append("\n\n");
                out.append(text.asText());
            }
        }
        return out.toString();
    }
}
