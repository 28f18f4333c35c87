package dev.lowbit.pipeline.synth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.model.ModelSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticCheckpointTest {
    static final Path TINY = dev.lowbit.io.SharedData.tinyLlama();
    static final SyntheticCheckpoint.Spec SPEC = new SyntheticCheckpoint.Spec(128, 3, 4, 2, 352, 8192, 1024, 7);

    @Test
    void writesACheckpointTheModelCheckAccepts(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("m");
        var r = SyntheticCheckpoint.write(SPEC, dir, TINY, 1_000_000);
        assertTrue(r.shards().size() > 1, "sharded");
        // 2 embedding-sized tables + per layer q,o [d,d], k,v [d/2,d], gate,up,down [ff,d] and 2 norms + the final norm
        long d = 128, ff = 352, perLayer = 2 * d * d + 2 * (d / 2) * d + 3 * ff * d + 2 * d;
        assertEquals(2 * 8192 * d + 3 * perLayer + d, r.totalParameters());
        try (ModelSource m = ModelSource.open(dir)) { // the full model check: every tensor, shape, no NaN
            float[] norm = m.readAll("model.layers.1.input_layernorm.weight");
            for (float v : norm) assertEquals(1f, v);
            float[] q = m.readAll("model.layers.2.self_attn.q_proj.weight");
            double sum = 0, sq = 0, bound = 0.02 * Math.sqrt(3) * (1 + 1.0 / 128); // bf16 rounding: 8 bits of mantissa
            for (float v : q) {
                assertTrue(Math.abs(v) <= bound, "within ±σ√3: " + v);
                sum += v;
                sq += v * v;
            }
            // uniform on ±σ√3 has standard deviation σ = 0.02; 16384 draws pin it to ~1%, mean to ~0.0002
            assertEquals(0.02, Math.sqrt(sq / q.length), 0.0006);
            assertEquals(0.0, sum / q.length, 0.001);
        }
        assertTrue(Files.isRegularFile(dir.resolve("tokenizer.json")));
    }

    @Test
    void bytesDependOnlyOnShapeAndSeed(@TempDir Path tmp) throws IOException {
        SyntheticCheckpoint.write(SPEC, tmp.resolve("a"), TINY, 1_000_000);
        SyntheticCheckpoint.write(SPEC, tmp.resolve("b"), TINY, 1_000_000);
        var other = new SyntheticCheckpoint.Spec(128, 3, 4, 2, 352, 8192, 1024, 8);
        SyntheticCheckpoint.write(other, tmp.resolve("c"), TINY, 1_000_000);
        try (ModelSource a = ModelSource.open(tmp.resolve("a")); ModelSource b = ModelSource.open(tmp.resolve("b"));
             ModelSource c = ModelSource.open(tmp.resolve("c"))) {
            for (String name : a.tensorNames()) assertArrayEquals(a.readAll(name), b.readAll(name), name);
            String k = "model.layers.0.self_attn.k_proj.weight";
            assertFalse(java.util.Arrays.equals(a.readAll(k), c.readAll(k)), "another seed, other weights");
            assertFalse(java.util.Arrays.equals(a.readAll(k), a.readAll("model.layers.1.self_attn.k_proj.weight")),
                    "each tensor its own stream");
        }
    }

    @Test
    void refusesANonEmptyDirectoryAndBadShapes(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("x"), "mine");
        assertThrows(IOException.class, () -> SyntheticCheckpoint.write(SPEC, tmp, TINY, 1_000_000));
        assertEquals("mine", Files.readString(tmp.resolve("x")));
        assertThrows(IllegalArgumentException.class, () -> new SyntheticCheckpoint.Spec(100, 1, 3, 3, 8, 16, 16, 0));
        assertThrows(IllegalArgumentException.class, () -> new SyntheticCheckpoint.Spec(128, 1, 4, 3, 8, 16, 16, 0));
    }
}
