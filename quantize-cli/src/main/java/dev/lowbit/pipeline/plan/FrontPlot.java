package dev.lowbit.pipeline.plan;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The Pareto front of a plan report as a standalone SVG (no fonts or scripts fetched): bits per weight across,
 * predicted sensitivity (log scale) up; the Lagrangian hull as a line, the exact optima at evenly spaced budgets as
 * dots, llama.cpp's mixes as labelled squares, the chosen plan as a red diamond; measured perplexities, when the
 * report carries a {@code measured} list, as labels next to their points.
 */
final class FrontPlot {
    private static final int W = 820, H = 520, L = 90, R = 30, T = 50, B = 70;

    private FrontPlot() {}

    static String svg(JsonNode rep) {
        List<double[]> hull = points(rep.path("front"));
        List<double[]> exact = points(rep.path("exact_front"));
        double minX = Double.MAX_VALUE, maxX = -Double.MAX_VALUE, minY = Double.MAX_VALUE, maxY = -Double.MAX_VALUE;
        List<double[]> all = new ArrayList<>(hull);
        all.addAll(exact);
        for (JsonNode m : rep.path("mixes")) all.add(new double[] {m.path("bits_per_weight").asDouble(), m.path("predicted").asDouble()});
        all.add(new double[] {rep.path("bits_per_weight").asDouble(), rep.path("predicted").asDouble()});
        for (double[] p : all) {
            if (!(p[1] > 0)) continue;
            minX = Math.min(minX, p[0]);
            maxX = Math.max(maxX, p[0]);
            minY = Math.min(minY, Math.log10(p[1]));
            maxY = Math.max(maxY, Math.log10(p[1]));
        }
        minY = Math.floor(minY);
        maxY = Math.ceil(maxY);
        // near-lossless candidates (F16) sit many decades below the rest; show the 5 decades that matter
        if (maxY - minY > 5) {
            minY = maxY - 5;
            double floor = minY;
            maxX = -Double.MAX_VALUE;
            for (double[] p : all) if (p[1] > 0 && Math.log10(p[1]) >= floor) maxX = Math.max(maxX, p[0]);
        }
        if (maxY <= minY) maxY = minY + 1;
        minX = Math.floor(minX * 2) / 2;
        maxX = Math.ceil(maxX * 2) / 2;
        if (maxX <= minX) maxX = minX + 1;
        Scale s = new Scale(minX, maxX, minY, maxY);

        StringBuilder o = new StringBuilder();
        o.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">%n", W, H, W, H));
        o.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", W, H));
        o.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"28\" font-size=\"16\">lowbit plan: predicted sensitivity vs size (%s, budget %s, %s)</text>%n",
                L, esc(rep.path("base_mix").asText()), esc(rep.path("budget").asText()), esc(rep.path("method").asText())));
        // axes and grid
        for (double x = minX; x <= maxX + 1e-9; x += 0.5) {
            double px = s.x(x);
            o.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e5e5e5\"/>%n", px, T, px, H - B));
            o.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.1f</text>%n", px, H - B + 18, x));
        }
        for (double y = minY; y <= maxY + 1e-9; y += 1) {
            double py = s.y(y);
            o.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>%n", L, py, W - R, py));
            o.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>%n", L - 8, py + 4, (int) y));
        }
        o.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>%n", L, T, W - L - R, H - T - B));
        o.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">bits per weight (all tensor data / all parameters)</text>%n", (L + W - R) / 2, H - B + 42));
        String measure = rep.path("sensitivities").path("kl_windows").asInt(0) > 0 ? "Σ KL(fp ‖ one Linear quantized)" : "Σ tr(ΔW H ΔWᵀ)/n";
        o.append(String.format(Locale.ROOT, "<text transform=\"translate(22 %d) rotate(-90)\" text-anchor=\"middle\">predicted %s (log)</text>%n", (T + H - B) / 2, measure));
        // hull
        StringBuilder path = new StringBuilder();
        for (double[] p : hull) if (s.inside(p)) path.append(path.isEmpty() ? "M" : " L").append(String.format(Locale.ROOT, "%.1f %.1f", s.x(p[0]), s.y(Math.log10(p[1]))));
        o.append("<path d=\"").append(path).append("\" fill=\"none\" stroke=\"#4477aa\" stroke-width=\"1.5\"/>\n");
        for (double[] p : exact) {
            if (s.inside(p)) o.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#4477aa\"/>%n", s.x(p[0]), s.y(Math.log10(p[1]))));
        }
        int k = 0;
        for (JsonNode m : rep.path("mixes")) {
            double[] p = {m.path("bits_per_weight").asDouble(), m.path("predicted").asDouble()};
            if (!s.inside(p)) continue;
            double x = s.x(p[0]), y = s.y(Math.log10(p[1]));
            o.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"#ee7733\"/>%n", x - 4, y - 4));
            // neighbouring mixes are close in size: labels alternate above and below, slanted
            double ly = k++ % 2 == 0 ? y - 10 : y + 20;
            o.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#aa4411\" font-size=\"12\" transform=\"rotate(-25 %.1f %.1f)\">%s</text>%n",
                    x + 4, ly, x + 4, ly, esc(m.path("mix").asText()) + measured(rep, m.path("mix").asText())));
        }
        double cx = s.x(rep.path("bits_per_weight").asDouble()), cy = s.y(Math.log10(rep.path("predicted").asDouble()));
        o.append(String.format(Locale.ROOT, "<path d=\"M%.1f %.1f l7 7 l-7 7 l-7 -7 z\" fill=\"#cc3311\"/>%n", cx, cy - 7));
        o.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#cc3311\" font-weight=\"bold\">plan%s</text>%n", cx - 10, cy + 24,
                measured(rep, "plan")));
        if (rep.path("measured").size() > 0) {
            o.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\">ppl: measured perplexity, as given with --measured</text>%n", L + 8, H - B - 10));
        }
        // legend
        int ly = T + 16;
        o.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#4477aa\" stroke-width=\"1.5\"/><text x=\"%d\" y=\"%d\">Lagrangian front (convex hull)</text>%n", W - R - 260, ly, W - R - 236, ly, W - R - 230, ly + 4));
        o.append(String.format(Locale.ROOT, "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"#4477aa\"/><text x=\"%d\" y=\"%d\">exact optimum (CP-SAT)</text>%n", W - R - 248, ly + 20, W - R - 230, ly + 24));
        o.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"8\" height=\"8\" fill=\"#ee7733\"/><text x=\"%d\" y=\"%d\">llama.cpp mix</text>%n", W - R - 252, ly + 36, W - R - 230, ly + 44));
        o.append("</svg>\n");
        return o.toString();
    }

    /** " ppl 14.0123" when the report carries a measured perplexity for this point (the plan or a mix name). */
    private static String measured(JsonNode rep, String label) {
        for (JsonNode m : rep.path("measured")) {
            if (m.path("label").asText().equals(label)) return String.format(Locale.ROOT, " (ppl %.4f)", m.path("perplexity").asDouble());
        }
        return "";
    }

    private static List<double[]> points(JsonNode arr) {
        List<double[]> out = new ArrayList<>();
        for (JsonNode p : arr) out.add(new double[] {p.path("bits_per_weight").asDouble(), p.path("predicted").asDouble()});
        return out;
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private record Scale(double minX, double maxX, double minY, double maxY) {
        double x(double v) {
            return L + (v - minX) / (maxX - minX) * (W - L - R);
        }

        boolean inside(double[] p) {
            return p[1] > 0 && Math.log10(p[1]) >= minY - 1e-9 && p[0] <= maxX + 1e-9;
        }

        double y(double v) {
            return H - B - (v - minY) / (maxY - minY) * (H - T - B);
        }
    }
}
