package dev.lowbit.pipeline.inspect;

import dev.lowbit.io.TerminalText;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/** Renders an {@link InspectReport} as a human table or as one JSON object. */
public final class InspectRenderer {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private InspectRenderer() {}

    /** The human table. Every string that came from the file is escaped ({@link TerminalText}); numbers are ours. */
    public static void text(InspectReport r, PrintStream out, boolean tensors) {
        out.printf(Locale.ROOT, "%s (%s)%n", esc(r.path()), esc(r.format()));
        if (!r.container().isEmpty()) {
            StringBuilder sb = new StringBuilder(r.format());
            r.container().forEach((k, v) -> sb.append(' ').append(k).append('=').append(v));
            out.printf(Locale.ROOT, "%s%n", esc(sb.toString()));
        }
        if (r.architecture() != null) out.printf(Locale.ROOT, "architecture: %s%n", esc(r.architecture()));
        for (Map.Entry<String, Object> e : r.hyperparameters().entrySet()) {
            out.printf(Locale.ROOT, "  %-28s %s%n", esc(e.getKey()), esc(String.valueOf(e.getValue())));
        }
        if (tensors) {
            int w = Math.max(4, r.tensors().stream().mapToInt(t -> esc(t.name()).length()).max().orElse(4));
            out.printf(Locale.ROOT, "%n%-" + w + "s  %-8s  %-18s  %12s  %6s%n", "name", "type", "shape", "bytes", "bpw");
            for (InspectReport.TensorRow t : r.tensors()) {
                out.printf(Locale.ROOT, "%-" + w + "s  %-8s  %-18s  %12d  %6.3f%n", esc(t.name()), esc(t.type()),
                        Arrays.toString(t.shape()), t.bytes(), t.bitsPerWeight());
            }
        }
        out.printf(Locale.ROOT, "%ntensors: %d   parameters: %,d   bytes: %,d   average bits per weight: %.3f%n",
                r.tensorCount(), r.parameterCount(), r.totalBytes(), r.averageBitsPerWeight());
        if (!r.metadata().isEmpty()) {
            out.printf(Locale.ROOT, "%nmetadata (%d keys):%n", r.metadata().size());
            for (Map.Entry<String, Object> e : r.metadata().entrySet()) {
                out.printf(Locale.ROOT, "  %s = %s%n", esc(e.getKey()), esc(abbreviate(String.valueOf(e.getValue()))));
            }
        }
    }

    private static String esc(String s) {
        return TerminalText.escape(s);
    }

    private static String abbreviate(String s) {
        return s.length() <= 120 ? s : s.substring(0, 117) + "...";
    }

    public static String json(InspectReport r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("path", r.path());
        o.put("format", r.format());
        o.put("architecture", r.architecture());
        if (!r.container().isEmpty()) o.set(r.format(), JSON.valueToTree(r.container()));
        o.set("hyperparameters", JSON.valueToTree(r.hyperparameters()));
        o.put("tensor_count", r.tensorCount());
        o.put("parameter_count", r.parameterCount());
        o.put("total_bytes", r.totalBytes());
        o.put("average_bits_per_weight", r.averageBitsPerWeight());
        ArrayNode ts = o.putArray("tensors");
        for (InspectReport.TensorRow t : r.tensors()) {
            ObjectNode n = ts.addObject();
            n.put("name", t.name());
            n.put("type", t.type());
            ArrayNode sh = n.putArray("shape");
            for (long d : t.shape()) sh.add(d);
            n.put("parameters", t.parameters());
            n.put("bytes", t.bytes());
            n.put("bits_per_weight", t.bitsPerWeight());
        }
        o.set("metadata", JSON.valueToTree(r.metadata()));
        try {
            return JSON.writeValueAsString(o);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
