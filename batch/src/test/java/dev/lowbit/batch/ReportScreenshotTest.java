package dev.lowbit.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report as a person sees it: Debian's Chromium renders report.html headless to a PNG (what
 * {@code scripts/batch-report-screenshot.sh} does), and the picture is counted: one marker of each method's colour per
 * finished job plus its legend entry, and one orange ring per point of the Pareto front. {@code .ci/run} installs
 * Chromium, so CI always runs this; a machine without it skips with the reason.
 */
class ReportScreenshotTest {
    @TempDir
    Path dir;

    private static String row(String id, String method, String format, double bpw, double ppl) {
        return ("{\"id\":\"%s\",\"method\":\"%s\",\"format\":\"%s\",\"status\":\"ok\",\"bits_per_weight\":%s,\"perplexity\":%s,"
                + "\"baseline_perplexity\":11.4661,\"ppl_ratio\":%s,\"top1\":0.95,\"kl\":0.01,\"size_bytes\":1}")
                .formatted(id, method, format, bpw, ppl, ppl / 11.4661);
    }

    @Test
    void chromiumShowsEveryPointAndTheParetoFront() throws Exception {
        Path chromium = List.of(Path.of("/usr/bin/chromium"), Path.of("/usr/bin/chromium-browser")).stream()
                .filter(Files::isExecutable).findFirst().orElse(null);
        Assumptions.assumeTrue(chromium != null, "no Chromium here (apt-get install chromium; .ci/run installs it)");
        // well apart on the plot, so markers do not touch: rtn 3 points, gptq 2; front = r1 (fewest bits) and g2
        // (r2 and g1 have more bits and a worse perplexity than r1; r3 than g2)
        List<String> rows = List.of(row("r1", "rtn", "gguf", 4.5, 12.4), row("r2", "rtn", "gptq", 6.0, 12.6),
                row("r3", "rtn", "gptq", 8.0, 11.8), row("g1", "gptq", "gptq", 6.5, 12.5), row("g2", "gptq", "gguf", 7.0, 11.6));
        Results results = new Results(rows, List.of());
        assertEquals(List.of("r1", "g2"), results.rows.stream().filter(r -> Report.pareto(r, Report.points(results.rows)))
                .map(r -> r.path("id").asText()).toList());
        Files.writeString(dir.resolve("report.html"), Report.html("screenshot", results));
        Path png = dir.resolve("report.png");
        Process p = new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + dir.resolve("profile"), "--hide-scrollbars", "--force-device-scale-factor=1",
                "--window-size=1200,900", "--screenshot=" + png, dir.resolve("report.html").toUri().toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("chromium.log").toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "chromium did not finish in 2 minutes");
        assertTrue(Files.size(png) > 0, Files.readString(dir.resolve("chromium.log")));
        BufferedImage img = ImageIO.read(png.toFile());
        // kept for a person to look at (target/ is the module's build output)
        Files.copy(png, Path.of("target", "report-screenshot.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        // each marker is a blob of its series colour (the page is drawn without colour management)
        assertEquals(3 + 1, blobs(img, 0x1f77b4), "rtn: 3 points + legend");
        assertEquals(2 + 1, blobs(img, 0xd62728), "gptq: 2 points + legend");
        assertEquals(2, blobs(img, 0xf0a000), "Pareto rings around r1 and g2");
    }

    /** Connected (8-neighbour) groups of at least 12 pixels within ±3 per channel of {@code rgb}. */
    private static int blobs(BufferedImage img, int rgb) {
        int w = img.getWidth(), h = img.getHeight();
        boolean[] seen = new boolean[w * h];
        int count = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (seen[y * w + x] || !near(img.getRGB(x, y), rgb)) continue;
                int size = 0;
                ArrayDeque<int[]> q = new ArrayDeque<>();
                q.add(new int[] {x, y});
                seen[y * w + x] = true;
                while (!q.isEmpty()) {
                    int[] c = q.poll();
                    size++;
                    for (int[] d : new int[][] {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {1, -1}, {-1, 1}, {-1, -1}}) {
                        int nx = c[0] + d[0], ny = c[1] + d[1];
                        if (nx < 0 || ny < 0 || nx >= w || ny >= h || seen[ny * w + nx] || !near(img.getRGB(nx, ny), rgb)) continue;
                        seen[ny * w + nx] = true;
                        q.add(new int[] {nx, ny});
                    }
                }
                if (size >= 12) count++;
            }
        }
        return count;
    }

    private static boolean near(int argb, int rgb) {
        for (int shift = 0; shift <= 16; shift += 8) {
            if (Math.abs(((argb >> shift) & 0xff) - ((rgb >> shift) & 0xff)) > 3) return false;
        }
        return true;
    }

}
