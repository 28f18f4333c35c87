package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.SharedData;
import dev.lowbit.pipeline.output.CliRun;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Off a terminal (tests, CI, pipes): one plain progress line per layer / batch on stderr, none with --quiet. */
class ProgressLinesTest {
    @TempDir
    Path tmp;

    @Test
    void oneLinePerLayerAndNoneWhenQuiet() {
        String model = SharedData.tinyLlama().toString();
        CliRun r = CliRun.run("quantize", model, "-o", tmp.resolve("a").toString(), "--method", "rtn");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.err().lines().filter(l -> l.startsWith("lowbit: layer ")).toList();
        assertEquals(6, lines.size(), r.err());
        for (int i = 0; i < 6; i++) {
            String l = lines.get(i);
            assertTrue(l.startsWith("lowbit: layer " + (i + 1) + "/6 quantized (rtn) (") && l.contains(" elapsed") && l.contains("ETA "), l);
        }
        assertTrue(lines.get(5).endsWith("ETA 0:00)"), "nothing left after the last layer: " + lines.get(5));
        CliRun q = CliRun.run("quantize", model, "-o", tmp.resolve("b").toString(), "--method", "rtn", "--quiet");
        assertEquals(0, q.code(), q.err());
        assertEquals("", q.err());
        CliRun c = CliRun.run("convert", model, "-o", tmp.resolve("c.gguf").toString(), "--type", "q8_0", "-q");
        assertEquals(0, c.code(), c.err());
        assertEquals("", c.err());
    }

    @Test
    void clockReadsAsMinutesOrHours() {
        assertEquals("0:00", LayerProgress.clock(0.4));
        assertEquals("1:15", LayerProgress.clock(75));
        assertEquals("1:02:05", LayerProgress.clock(3725));
    }
}
