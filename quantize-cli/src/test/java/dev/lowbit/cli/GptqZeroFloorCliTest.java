package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.pipeline.output.CliRun;
import dev.lowbit.io.hf.DequantizingSource;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.tensor.TensorSource;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One outlier weight (8.0 in a group whose minimum is −0.08) gives min/max zero point 0, which GPTQ v1's qzeros
 * (z − 1, unsigned) cannot store. RTN and GPTQ now widen that group's grid (z = 1, range still covering the group),
 * report how many groups they widened, and the checkpoint reads back with the outlier intact.
 */
class GptqZeroFloorCliTest {
    static final String MODULE = "model.layers.0.self_attn.q_proj";

    @TempDir
    Path tmp;

    /** Row 0, columns 0..127 (group 0): a ramp over [−0.08, 0.08] and one 8.0 at column 5. */
    HostileModel outlier() {
        return HostileModel.copyTo(tmp.resolve("m")).replace(MODULE + ".weight", t -> {
            var bf16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            for (int c = 0; c < 128; c++) {
                float v = c == 5 ? 8.0f : -0.08f + 0.16f * c / 127;
                t.data().setAtIndex(bf16, c, (short) (Float.floatToRawIntBits(v) >>> 16));
            }
            return t;
        });
    }

    void checkOutput(CliRun r, Path out) throws IOException {
        assertEquals(0, r.code(), r.err());
        JsonNode report = new ObjectMapper().readTree(r.out());
        assertTrue(report.path("widened_groups").asLong() >= 1, r.out());
        JsonNode manifest = new ObjectMapper().readTree(out.resolve("lowbit-manifest.json").toFile());
        assertEquals(report.path("widened_groups").asLong(), manifest.path("figures").path("widened_groups").asLong(-1));
        try (TensorSource s = DequantizingSource.openDirectory(out)) {
            QuantizedTensor q = ((DequantizingSource) s).quantized(MODULE);
            int groups = q.groups();
            assertEquals(1, q.zeros()[0], "row 0 group 0 keeps its zero point at 1");
            float scale = q.scales()[0];
            // the widened grid covers the group: 8.0 and −0.08 are within half a step of their codes
            float[] w = s.tensor(MODULE + ".weight").toFloatArray();
            assertEquals(8.0f, w[5], scale / 2 + 1e-3f * 8, "outlier kept");
            assertEquals(-0.08f, w[0], scale / 2 + 1e-3f, "minimum kept");
            assertTrue(scale >= 8.0f / 14 * 0.999f, "scale " + scale + " covers 8.0 with codes 0..15 and z = 1");
            assertTrue(groups >= 1);
        }
    }

    @Test
    void rtnWidensTheGroupAndReadsBack() throws IOException {
        Path out = tmp.resolve("rtn");
        checkOutput(CliRun.run("quantize", outlier().toString(), "-o", out.toString(), "--method", "rtn", "--json", "-q"), out);
    }

    @Test
    void gptqWidensTheGroupAndReadsBack() throws IOException {
        Path out = tmp.resolve("gptq");
        checkOutput(CliRun.run("quantize", outlier().toString(), "-o", out.toString(), "--method", "gptq",
                "--calib", HostileModel.CALIB.toString(), "--calib-samples", "2", "--calib-seqlen", "64", "--targets", "layers\\.[01]\\.", "--json", "-q"), out);
    }
}
