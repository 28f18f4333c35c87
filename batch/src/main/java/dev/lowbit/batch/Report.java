package dev.lowbit.batch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code report.html}: one self-contained page (no script, no external file) with the sweep's verdict, a plot of
 * perplexity against bits per weight (one colour per method, a circle for safetensors formats and a square for GGUF,
 * the baseline as a dashed line, the Pareto front drawn through the points no other point beats on both axes) as
 * inline SVG, and the results table.
 */
final class Report {
    static final int W = 720, H = 440, LEFT = 70, RIGHT = 170, TOP = 30, BOTTOM = 50;
    private static final String[] COLOURS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"};

    private Report() {}

    static String html(String title, Results results) {
        StringBuilder sb = new StringBuilder();
        sb.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lowbit batch: ").append(esc(title))
                .append("</title>\n<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}"
                        + "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td.l,th{text-align:left}"
                        + "tr.failed td{background:#fde0e0}td.fail{background:#fbb;font-weight:bold}td.pass{background:#d8f5d8}"
                        + ".verdict{font-size:18px;font-weight:bold}</style></head><body>\n");
        sb.append("<h1>lowbit batch: ").append(esc(title)).append("</h1>\n");
        long ok = results.rows.stream().filter(r -> "ok".equals(r.path("status").asText())).count();
        int failed = results.rows.size() - (int) ok;
        List<String> gateFailures = results.gateFailures();
        String verdict = failed > 0 ? failed + " job(s) failed" : gateFailures.isEmpty() ? "all gates pass" : gateFailures.size() + " gate failure(s)";
        sb.append("<p class=\"verdict\" id=\"verdict\">").append(results.rows.size()).append(" jobs, ").append(ok).append(" finished: ")
                .append(esc(verdict)).append("</p>\n");
        if (!results.gates.isEmpty()) {
            sb.append("<p>Gates: ");
            for (int i = 0; i < results.gates.size(); i++) sb.append(i > 0 ? ", " : "").append(esc(results.gates.get(i).name()));
            sb.append("</p>\n");
        }
        sb.append(svg(results.rows)).append('\n');
        sb.append(table(results)).append("\n</body></html>\n");
        return sb.toString();
    }

    /** The points of the plot: finished jobs with a perplexity and a size. */
    static List<ObjectNode> points(List<ObjectNode> rows) {
        List<ObjectNode> out = new ArrayList<>();
        for (ObjectNode r : rows) {
            if ("ok".equals(r.path("status").asText()) && r.path("bits_per_weight").isNumber() && r.path("perplexity").isNumber()) out.add(r);
        }
        return out;
    }

    /** Whether {@code p} is on the Pareto front: no other point has bits ≤ and perplexity ≤ with one of them <. */
    static boolean pareto(ObjectNode p, List<ObjectNode> all) {
        double x = p.get("bits_per_weight").doubleValue(), y = p.get("perplexity").doubleValue();
        for (ObjectNode q : all) {
            double qx = q.get("bits_per_weight").doubleValue(), qy = q.get("perplexity").doubleValue();
            if (qx <= x && qy <= y && (qx < x || qy < y)) return false;
        }
        return true;
    }

    static String svg(List<ObjectNode> rows) {
        List<ObjectNode> pts = points(rows);
        StringBuilder s = new StringBuilder();
        s.append("<svg id=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(W).append("\" height=\"").append(H)
                .append("\" viewBox=\"0 0 ").append(W).append(' ').append(H).append("\" font-family=\"sans-serif\" font-size=\"12\">\n");
        s.append("<rect x=\"0\" y=\"0\" width=\"").append(W).append("\" height=\"").append(H).append("\" fill=\"white\"/>\n");
        if (pts.isEmpty()) {
            s.append("<text x=\"").append(W / 2).append("\" y=\"").append(H / 2).append("\" text-anchor=\"middle\">no finished job to plot</text>\n</svg>");
            return s.toString();
        }
        double x0 = Double.MAX_VALUE, x1 = -Double.MAX_VALUE, y0 = Double.MAX_VALUE, y1 = -Double.MAX_VALUE;
        double baseline = Double.NaN;
        for (ObjectNode p : pts) {
            x0 = Math.min(x0, p.get("bits_per_weight").doubleValue());
            x1 = Math.max(x1, p.get("bits_per_weight").doubleValue());
            y0 = Math.min(y0, p.get("perplexity").doubleValue());
            y1 = Math.max(y1, p.get("perplexity").doubleValue());
            if (p.path("baseline_perplexity").isNumber()) baseline = p.get("baseline_perplexity").doubleValue();
        }
        if (Double.isFinite(baseline)) {
            y0 = Math.min(y0, baseline);
            y1 = Math.max(y1, baseline);
        }
        // a margin of 5% of the span (or of the value) on each side, so no point sits on the frame
        double mx = 0.05 * Math.max(x1 - x0, 0.1 * Math.abs(x1)), my = 0.05 * Math.max(y1 - y0, 0.01 * Math.abs(y1));
        double[] xt = ticks(x0 - mx, x1 + mx), yt = ticks(y0 - my, y1 + my);
        Axis ax = new Axis(xt[0], xt[xt.length - 1], LEFT, W - RIGHT);
        Axis ay = new Axis(yt[0], yt[yt.length - 1], H - BOTTOM, TOP);
        // frame, ticks, labels
        s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>%n",
                LEFT, TOP, W - RIGHT - LEFT, H - BOTTOM - TOP));
        for (double t : xt) {
            double px = ax.map(t);
            s.append(String.format(Locale.ROOT, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#ddd\"/>"
                    + "<text class=\"xtick\" data-value=\"%s\" x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n",
                    px, TOP, px, H - BOTTOM, num(t), px, H - BOTTOM + 16, num(t)));
        }
        for (double t : yt) {
            double py = ay.map(t);
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#ddd\"/>"
                    + "<text class=\"ytick\" data-value=\"%s\" x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%s</text>%n",
                    LEFT, py, W - RIGHT, py, num(t), LEFT - 6, py + 4, num(t)));
        }
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">bits per weight (whole artifact: 8 x bytes / parameters)</text>%n",
                (LEFT + W - RIGHT) / 2, H - 12));
        s.append(String.format(Locale.ROOT, "<text transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">perplexity</text>%n",
                (TOP + H - BOTTOM) / 2));
        if (Double.isFinite(baseline)) {
            double py = ay.map(baseline);
            s.append(String.format(Locale.ROOT, "<line id=\"baseline\" x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#555\" stroke-dasharray=\"6 4\"/>"
                    + "<text x=\"%d\" y=\"%.2f\" fill=\"#555\">baseline %s</text>%n", LEFT, py, W - RIGHT, py, W - RIGHT + 6, py + 4, num4(baseline)));
        }
        // the Pareto front, left to right
        List<ObjectNode> front = new ArrayList<>(pts.stream().filter(p -> pareto(p, pts)).toList());
        front.sort((a, b) -> Double.compare(a.get("bits_per_weight").doubleValue(), b.get("bits_per_weight").doubleValue()));
        StringBuilder poly = new StringBuilder();
        for (ObjectNode p : front) {
            poly.append(String.format(Locale.ROOT, "%.2f,%.2f ", ax.map(p.get("bits_per_weight").doubleValue()), ay.map(p.get("perplexity").doubleValue())));
        }
        s.append("<polyline id=\"pareto\" points=\"").append(poly.toString().strip())
                .append("\" fill=\"none\" stroke=\"#f0a000\" stroke-width=\"3\" stroke-opacity=\"0.6\"/>\n");
        // the points, one colour per method
        Map<String, String> colour = new LinkedHashMap<>();
        for (ObjectNode p : pts) colour.computeIfAbsent(p.path("method").asText(), k -> COLOURS[colour.size() % COLOURS.length]);
        for (ObjectNode p : pts) {
            double px = ax.map(p.get("bits_per_weight").doubleValue()), py = ay.map(p.get("perplexity").doubleValue());
            String c = colour.get(p.path("method").asText());
            boolean onFront = front.contains(p);
            if (onFront) s.append(String.format(Locale.ROOT, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"10\" fill=\"none\" stroke=\"#f0a000\" stroke-width=\"3\"/>", px, py));
            String title = "<title>" + esc(p.path("id").asText()) + ": " + num4(p.get("bits_per_weight").doubleValue()) + " bits, perplexity "
                    + num4(p.get("perplexity").doubleValue()) + "</title>";
            String attrs = String.format(Locale.ROOT, "class=\"point%s\" data-id=\"%s\" data-x=\"%s\" data-y=\"%s\" fill=\"%s\"",
                    onFront ? " pareto" : "", esc(p.path("id").asText()), p.get("bits_per_weight").asText(), p.get("perplexity").asText(), c);
            if ("gguf".equals(p.path("format").asText())) {
                s.append(String.format(Locale.ROOT, "<rect %s x=\"%.2f\" y=\"%.2f\" width=\"10\" height=\"10\">%s</rect>%n", attrs, px - 5, py - 5, title));
            } else {
                s.append(String.format(Locale.ROOT, "<circle %s cx=\"%.2f\" cy=\"%.2f\" r=\"5\">%s</circle>%n", attrs, px, py, title));
            }
        }
        // legend
        int ly = TOP + 10;
        for (Map.Entry<String, String> e : colour.entrySet()) {
            s.append(String.format(Locale.ROOT, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>%n",
                    W - RIGHT + 16, ly, e.getValue(), W - RIGHT + 28, ly + 4, esc(e.getKey())));
            ly += 20;
        }
        s.append(String.format(Locale.ROOT, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"#888\"/><text x=\"%d\" y=\"%d\">gptq / c-t</text>%n", W - RIGHT + 16, ly, W - RIGHT + 28, ly + 4));
        ly += 20;
        s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"#888\"/><text x=\"%d\" y=\"%d\">gguf</text>%n", W - RIGHT + 11, ly - 5, W - RIGHT + 28, ly + 4));
        ly += 20;
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#f0a000\" stroke-width=\"3\" stroke-opacity=\"0.6\"/><text x=\"%d\" y=\"%d\">Pareto front</text>%n",
                W - RIGHT + 8, ly, W - RIGHT + 24, ly, W - RIGHT + 28, ly + 4));
        s.append("</svg>");
        return s.toString();
    }

    private static String table(Results results) {
        StringBuilder t = new StringBuilder("<table id=\"results\"><thead><tr>");
        String[] cols = {"id", "status", "size_bytes", "bits_per_weight", "perplexity", "ppl_ratio", "kl", "top1",
            "quantize_seconds", "evaluate_seconds", "resumed", "recipe_hash"};
        for (String c : cols) t.append("<th>").append(esc(c)).append("</th>");
        for (Gate g : results.gates) t.append("<th>").append(esc(g.name())).append("</th>");
        t.append("<th>error</th></tr></thead><tbody>\n");
        for (ObjectNode r : results.rows) {
            boolean ok = "ok".equals(r.path("status").asText());
            t.append(ok ? "<tr>" : "<tr class=\"failed\">");
            for (String c : cols) {
                JsonNode v = r.get(c);
                String text = v == null || v.isNull() ? "" : c.equals("recipe_hash") ? v.asText().substring(0, 12)
                        : c.endsWith("_seconds") ? String.format(Locale.ROOT, "%.1f", v.doubleValue())
                        : v.isFloatingPointNumber() ? num4(v.doubleValue()) : v.asText();
                t.append(v != null && v.isNumber() ? "<td>" : "<td class=\"l\">").append(esc(text)).append("</td>");
            }
            for (Gate g : results.gates) {
                String verdict = r.path("gates").path(g.name()).asText();
                t.append("<td class=\"").append(verdict).append("\">").append(verdict).append("</td>");
            }
            t.append("<td class=\"l\">").append(esc(r.path("error").isNull() ? "" : r.path("error").asText())).append("</td></tr>\n");
        }
        return t.append("</tbody></table>").toString();
    }

    /** Linear map from data to pixels. */
    record Axis(double d0, double d1, double p0, double p1) {
        double map(double v) {
            return p0 + (v - d0) / (d1 - d0) * (p1 - p0);
        }
    }

    /** 3–8 "nice" ticks (1, 2, 2.5 or 5 × 10^k apart) covering [lo, hi]; a single value gets a range around it. */
    static double[] ticks(double lo, double hi) {
        if (hi - lo < 1e-9 * Math.max(1, Math.abs(hi))) {
            double pad = Math.max(Math.abs(hi) * 0.05, 1e-3);
            lo -= pad;
            hi += pad;
        }
        double raw = (hi - lo) / 5;
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = mag;
        for (double m : new double[] {1, 2, 2.5, 5, 10}) {
            if (m * mag >= raw) {
                step = m * mag;
                break;
            }
        }
        double start = Math.floor(lo / step) * step, end = Math.ceil(hi / step) * step;
        int n = (int) Math.round((end - start) / step) + 1;
        double[] t = new double[n];
        for (int i = 0; i < n; i++) t[i] = start + i * step;
        return t;
    }

    private static String num(double v) {
        String s = String.format(Locale.ROOT, "%.4f", v).replaceFirst("0+$", "");
        return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }

    private static String num4(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
