package dev.lowbit.batch;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A YAML or JSON document as a Jackson tree, with the line each value starts on, so a message can name the sweep
 * line at fault ({@code sweep.yaml:12: unknown step 'awq'}). Lines are kept by JSON pointer ({@code /grid/methods/1}).
 */
final class LinedTree {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final long MAX_BYTES = 1L << 20;

    final Path file;
    final JsonNode root;
    private final Map<String, Integer> lines;

    private LinedTree(Path file, JsonNode root, Map<String, Integer> lines) {
        this.file = file;
        this.root = root;
        this.lines = lines;
    }

    /** Reads {@code file}: YAML for {@code .yaml}/{@code .yml}, else JSON. */
    static LinedTree read(Path file) {
        dev.lowbit.io.InputFiles.requireRegular(file, "sweep");
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        JsonFactory factory = name.endsWith(".yaml") || name.endsWith(".yml") ? new YAMLFactory() : new JsonFactory();
        try {
            if (Files.size(file) > MAX_BYTES) throw new BadInputException(file, "a sweep file is at most 1 MiB");
            Map<String, Integer> lines = new HashMap<>();
            try (JsonParser p = factory.createParser(Files.readString(file))) {
                JsonToken t = p.nextToken();
                if (t == null) throw new BadInputException(file, "empty sweep file");
                JsonNode root = value(p, "", lines);
                return new LinedTree(file, root, lines);
            }
        } catch (IOException e) {
            String m = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
            throw new BadInputException(file, "cannot parse: " + m);
        }
    }

    private static JsonNode value(JsonParser p, String pointer, Map<String, Integer> lines) throws IOException {
        lines.put(pointer, p.currentTokenLocation().getLineNr());
        JsonToken t = p.currentToken();
        switch (t) {
            case START_OBJECT -> {
                ObjectNode o = F.objectNode();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    String child = pointer + "/" + key;
                    int keyLine = p.currentTokenLocation().getLineNr();
                    p.nextToken();
                    o.set(key, value(p, child, lines));
                    lines.put(child, keyLine);
                }
                return o;
            }
            case START_ARRAY -> {
                ArrayNode a = F.arrayNode();
                int i = 0;
                while (p.nextToken() != JsonToken.END_ARRAY) a.add(value(p, pointer + "/" + i++, lines));
                return a;
            }
            case VALUE_STRING -> { return F.textNode(p.getText()); }
            case VALUE_NUMBER_INT -> { return F.numberNode(p.getLongValue()); }
            case VALUE_NUMBER_FLOAT -> { return F.numberNode(p.getDoubleValue()); }
            case VALUE_TRUE -> { return F.booleanNode(true); }
            case VALUE_FALSE -> { return F.booleanNode(false); }
            case VALUE_NULL -> { return F.nullNode(); }
            default -> throw new IOException("unexpected " + t);
        }
    }

    /** {@code file:line} of the value at {@code pointer} (or of its nearest ancestor that has one). */
    String at(String pointer) {
        String p = pointer;
        while (true) {
            Integer line = lines.get(p);
            if (line != null && line > 0) return file + ":" + line;
            if (p.isEmpty()) return file.toString();
            p = p.substring(0, p.lastIndexOf('/'));
        }
    }

    BadInputException error(String pointer, String reason) {
        return new BadInputException(at(pointer), reason);
    }
}
