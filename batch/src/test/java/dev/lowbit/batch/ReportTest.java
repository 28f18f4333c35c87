package dev.lowbit.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The report's plot, read back the way a reader of the picture would: positions against the axis labels. */
class ReportTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String row(String id, String method, String format, double bpw, double ppl) {
        ObjectNode r = JSON.createObjectNode();
        r.put("id", id).put("method", method).put("format", format).put("status", "ok").put("bits_per_weight", bpw)
                .put("perplexity", ppl).put("baseline_perplexity", 11.4661).put("ppl_ratio", ppl / 11.4661)
                .put("top1", 0.95).put("kl", 0.01).put("size_bytes", (long) (bpw * 1e6));
        return r.toString();
    }

    @Test
    void everyFinishedJobIsPlottedWhereTheAxesSayAndTheParetoFrontIsTheUndominatedSet() {
        List<String> rows = List.of(
                row("a", "rtn", "gptq", 7.84, 12.44),
                row("b", "rtn", "gguf", 5.04, 11.83),   // beats a on both axes
                row("c", "gptq", "gptq", 7.84, 12.07),
                row("d", "gptq", "gguf", 5.04, 11.78),   // front: fewest bits with the best perplexity there
                row("e", "gptq", "gptq", 8.30, 11.59),   // front: more bits, better than d
                row("f", "rtn", "gptq", 8.30, 11.70),
                "{\"id\":\"g\",\"method\":\"rtn\",\"format\":\"gptq\",\"status\":\"failed\",\"error\":\"quantize (exit 2): x\"}");
        Results results = new Results(rows, List.of(new Gate("ppl_ratio", true, 1.05, "s:1")));
        String html = Report.html("sweep.yaml", results);
        String svg = html.substring(html.indexOf("<svg"), html.indexOf("</svg>"));

        // axis calibration from the tick labels alone (value printed, pixel position), as a person reads a chart
        double[] xs = fit(ticks(svg, "xtick", "x")), ys = fit(ticks(svg, "ytick", "y"));
        Map<String, double[]> drawn = points(svg);
        assertEquals(Set.of("a", "b", "c", "d", "e", "f"), drawn.keySet(), "the failed job has no point");
        Map<String, double[]> expected = Map.of("a", new double[] {7.84, 12.44}, "b", new double[] {5.04, 11.83},
                "c", new double[] {7.84, 12.07}, "d", new double[] {5.04, 11.78}, "e", new double[] {8.30, 11.59},
                "f", new double[] {8.30, 11.70});
        for (var e : expected.entrySet()) {
            double[] px = drawn.get(e.getKey());
            // read back to within one pixel (positions are printed to 1/100 px; a pixel is 1/|a| in data units)
            assertEquals(e.getValue()[0], (px[0] - xs[1]) / xs[0], 1 / Math.abs(xs[0]), "x of " + e.getKey());
            assertEquals(e.getValue()[1], (px[1] - ys[1]) / ys[0], 1 / Math.abs(ys[0]), "y of " + e.getKey());
        }
        // Pareto front by brute force here: not dominated by any other point
        Set<String> front = new TreeSet<>();
        for (var p : expected.entrySet()) {
            boolean dominated = false;
            for (var q : expected.entrySet()) {
                double[] a = p.getValue(), b = q.getValue();
                if (b[0] <= a[0] && b[1] <= a[1] && (b[0] < a[0] || b[1] < a[1])) dominated = true;
            }
            if (!dominated) front.add(p.getKey());
        }
        assertEquals(Set.of("d", "e"), front);
        assertEquals(front, pareto(svg));
        // the table lists every job, the failed one with its error; the verdict names the failure
        for (String id : List.of("a", "b", "c", "d", "e", "f", "g")) assertTrue(html.contains("<td class=\"l\">" + id + "</td>"), id);
        assertTrue(html.contains("quantize (exit 2): x"));
        assertTrue(html.contains("1 job(s) failed"), html);
    }

    @Test
    void ticksAreNiceAndCoverTheRange() {
        for (double[] r : new double[][] {{4.2, 8.3}, {11.4661, 12.4418}, {5.0411, 5.0411}, {0.001, 1000}}) {
            double[] t = Report.ticks(r[0], r[1]);
            assertTrue(t[0] <= r[0] && t[t.length - 1] >= r[1], java.util.Arrays.toString(t));
            assertTrue(t.length >= 3 && t.length <= 12, java.util.Arrays.toString(t));
        }
    }

    /** (value, pixel) of each tick label of one axis. */
    private static List<double[]> ticks(String svg, String cls, String coordinate) {
        Matcher m = Pattern.compile("<text class=\"" + cls + "\" data-value=\"([^\"]+)\" x=\"([\\d.]+)\" y=\"([\\d.]+)\"").matcher(svg);
        List<double[]> out = new ArrayList<>();
        while (m.find()) {
            double px = Double.parseDouble(coordinate.equals("x") ? m.group(2) : m.group(3));
            if (coordinate.equals("y")) px -= 4; // the label's baseline sits 4 px below its grid line
            out.add(new double[] {Double.parseDouble(m.group(1)), px});
        }
        assertTrue(out.size() >= 3, cls + ": " + out.size());
        return out;
    }

    /** Least-squares pixel = a·value + b through the ticks; the ticks must lie on one line. */
    private static double[] fit(List<double[]> t) {
        double n = t.size(), sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (double[] p : t) {
            sx += p[0];
            sy += p[1];
            sxx += p[0] * p[0];
            sxy += p[0] * p[1];
        }
        double a = (n * sxy - sx * sy) / (n * sxx - sx * sx), b = (sy - a * sx) / n;
        for (double[] p : t) assertEquals(p[1], a * p[0] + b, 0.01, "ticks evenly spaced");
        return new double[] {a, b};
    }

    private static Map<String, double[]> points(String svg) {
        Map<String, double[]> out = new HashMap<>();
        Matcher c = Pattern.compile("<circle class=\"point[^\"]*\" data-id=\"([^\"]+)\"[^>]*cx=\"([\\d.]+)\" cy=\"([\\d.]+)\"").matcher(svg);
        while (c.find()) out.put(c.group(1), new double[] {Double.parseDouble(c.group(2)), Double.parseDouble(c.group(3))});
        Matcher r = Pattern.compile("<rect class=\"point[^\"]*\" data-id=\"([^\"]+)\"[^>]*x=\"([\\d.]+)\" y=\"([\\d.]+)\" width=\"10\"").matcher(svg);
        while (r.find()) out.put(r.group(1), new double[] {Double.parseDouble(r.group(2)) + 5, Double.parseDouble(r.group(3)) + 5});
        return out;
    }

    private static Set<String> pareto(String svg) {
        Matcher m = Pattern.compile("class=\"point pareto\" data-id=\"([^\"]+)\"").matcher(svg);
        Set<String> out = new TreeSet<>();
        while (m.find()) out.add(m.group(1));
        return out;
    }
}
