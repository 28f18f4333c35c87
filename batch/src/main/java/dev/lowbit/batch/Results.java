package dev.lowbit.batch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/** The results table: one row per job with its gate verdicts; as JSON lines and as CSV. */
final class Results {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** CSV columns, in order; the gates follow as {@code gate:<name>} columns, then {@code pass}. */
    static final List<String> COLUMNS = List.of("id", "model", "method", "format", "scheme", "bits", "group_size",
            "recipe_hash", "artifact", "status", "error", "size_bytes", "parameters", "bits_per_weight",
            "quantized_bits_per_weight", "perplexity", "baseline_perplexity", "ppl_ratio", "kl", "top1",
            "max_abs_delta_logit", "eval_windows", "quantize_seconds", "evaluate_seconds", "resumed");

    final List<ObjectNode> rows;
    final List<Gate> gates;

    Results(List<String> jsonRows, List<Gate> gates) {
        this.gates = List.copyOf(gates);
        List<ObjectNode> rows = new ArrayList<>();
        for (String s : jsonRows) {
            try {
                ObjectNode row = (ObjectNode) JSON.readTree(s);
                ObjectNode verdicts = row.putObject("gates");
                boolean pass = true;
                for (Gate g : gates) {
                    boolean ok = g.passes(row);
                    verdicts.put(g.name(), ok ? "pass" : "fail");
                    pass &= ok;
                }
                row.put("pass", pass && "ok".equals(row.path("status").asText()));
                rows.add(row);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        this.rows = List.copyOf(rows);
    }

    List<ObjectNode> failedJobs() {
        return rows.stream().filter(r -> !"ok".equals(r.path("status").asText())).toList();
    }

    /** "job X: gate G (value v)" for every gate a finished job fails. */
    List<String> gateFailures() {
        List<String> out = new ArrayList<>();
        for (ObjectNode r : rows) {
            if (!"ok".equals(r.path("status").asText())) continue;
            for (Gate g : gates) {
                if (!g.passes(r)) {
                    JsonNode v = r.get(Gate.METRICS.get(g.metric()));
                    out.add("job " + r.path("id").asText() + " fails gate " + g.name() + " (" + g.source() + "): "
                            + g.metric() + " = " + (v == null ? "missing" : v.asText()));
                }
            }
        }
        return out;
    }

    String jsonl() {
        StringBuilder sb = new StringBuilder();
        for (ObjectNode r : rows) sb.append(r).append('\n');
        return sb.toString();
    }

    String csv() {
        StringBuilder sb = new StringBuilder();
        List<String> header = new ArrayList<>(COLUMNS);
        for (Gate g : gates) header.add("gate:" + g.name());
        header.add("pass");
        line(sb, header);
        for (ObjectNode r : rows) {
            List<String> cells = new ArrayList<>();
            for (String c : COLUMNS) {
                JsonNode v = r.get(c);
                cells.add(v == null || v.isNull() ? "" : v.asText());
            }
            for (Gate g : gates) cells.add(r.path("gates").path(g.name()).asText());
            cells.add(r.path("pass").asText());
            line(sb, cells);
        }
        return sb.toString();
    }

    /** RFC 4180: a cell with a comma, quote or line break is quoted, quotes doubled; lines end in CRLF. */
    private static void line(StringBuilder sb, List<String> cells) {
        for (int i = 0; i < cells.size(); i++) {
            if (i > 0) sb.append(',');
            String c = cells.get(i);
            if (c.contains(",") || c.contains("\"") || c.contains("\n") || c.contains("\r")) {
                sb.append('"').append(c.replace("\"", "\"\"")).append('"');
            } else {
                sb.append(c);
            }
        }
        sb.append("\r\n");
    }
}
