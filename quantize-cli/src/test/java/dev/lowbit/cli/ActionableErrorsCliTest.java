package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.pipeline.output.CliRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Errors a user can act on, through the real CLI: every bad flag or input is exit 2 with one line naming it and the
 * cause, checked before calibration or any allocation; nothing blocks on a FIFO; an exhausted heap is one line.
 */
class ActionableErrorsCliTest {
    static final String TINY = HostileModel.TINY.toString();
    static final String CALIB = HostileModel.CALIB.toString();
    static final String EVAL = HostileModel.EVAL.toString();

    @TempDir
    Path tmp;

    void refusedQuickly(String[] args, String... expect) {
        long t0 = System.nanoTime();
        CliRun r = CliRun.run(args);
        ModelValidationCliTest.refused(r, expect);
        assertTrue((System.nanoTime() - t0) / 1e9 < 20, "refused before any calibration work");
    }

    @Test
    void gptqSettingsAreCheckedBeforeCalibration() {
        Path out = tmp.resolve("o");
        refusedQuickly(new String[] {"quantize", TINY, "-o", out.toString(), "--calib", CALIB, "--block-size", "0"},
                "block_size", "got 0");
        refusedQuickly(new String[] {"quantize", TINY, "-o", out.toString(), "--calib", CALIB, "--damp", "NaN"},
                "damp_percent", "(0, 1), got NaN");
        refusedQuickly(new String[] {"quantize", TINY, "-o", out.toString(), "--calib", CALIB, "--damp", "Infinity"},
                "damp_percent", "got Infinity");
        refusedQuickly(new String[] {"quantize", TINY, "-o", out.toString(), "--method", "rtn", "--threads", "0"},
                "--threads must be at least 1, got 0");
        refusedQuickly(new String[] {"quantize", TINY, "-o", out.toString(), "--calib", CALIB, "--calib-samples", "0"},
                "--calib-samples must be at least 1");
        assertFalse(Files.exists(out));
    }

    @Test
    void evaluateFlagsOutOfRange() {
        refusedQuickly(new String[] {"evaluate", TINY, "--data", EVAL, "--max-windows", "-1"}, "--max-windows", "got -1");
        refusedQuickly(new String[] {"evaluate", TINY, "--data", EVAL, "--threads", "-2"}, "--threads", "got -2");
    }

    @Test
    void windowSizesAreBoundedBeforeAllocation() {
        refusedQuickly(new String[] {"evaluate", TINY, "--data", EVAL, "--ctx", "100000", "--max-windows", "1"},
                "--ctx", "100000 tokens per window exceeds the model's max_position_embeddings 2048");
        Path out = tmp.resolve("o");
        refusedQuickly(new String[] {"quantize", TINY, "-o", out.toString(), "--calib", CALIB, "--calib-seqlen", "100000"},
                "--calib-seqlen", "max_position_embeddings 2048");
        refusedQuickly(new String[] {"quantize", TINY, "-o", tmp.resolve("o.gguf").toString(), "--format", "gguf", "--type",
                "Q4_K_M", "--calib", CALIB, "--calib-seqlen", "100000"}, "--calib-seqlen", "max_position_embeddings 2048");
        assertFalse(Files.exists(out));
    }

    @Test
    void aLargeContextThatStillFitsTheConfigIsBoundedByMemory() {
        HostileModel m = HostileModel.copyTo(tmp.resolve("m")).config(c -> c.put("max_position_embeddings", 1 << 20));
        refusedQuickly(new String[] {"evaluate", m.toString(), "--data", EVAL, "--ctx", "1000000", "--max-windows", "1"},
                "--ctx", "GiB for activations", "lower --ctx or --batch");
    }

    static Path fifo(Path p) throws IOException, InterruptedException {
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertTrue(mk.waitFor(10, TimeUnit.SECONDS) && mk.exitValue() == 0, "mkfifo");
        return p;
    }

    @Test
    @Timeout(120)
    void noInputBlocksOnAFifo() throws IOException, InterruptedException {
        Path recipe = fifo(tmp.resolve("recipe.json"));
        refusedQuickly(new String[] {"quantize", TINY, "-o", tmp.resolve("o").toString(), "--recipe", recipe.toString()},
                "recipe.json", "not a regular file");
        Path im = fifo(tmp.resolve("imatrix.dat"));
        refusedQuickly(new String[] {"quantize", HostileModel.STORIES_F32.toString(), "-o", tmp.resolve("o.gguf").toString(),
                "--format", "gguf", "--type", "Q4_K_M", "--imatrix", im.toString()}, "imatrix.dat", "not a regular file");
        HostileModel m = HostileModel.copyTo(tmp.resolve("m"));
        String shard = m.shardOf("lm_head.weight");
        Files.delete(m.dir.resolve(shard));
        fifo(m.dir.resolve(shard));
        refusedQuickly(new String[] {"quantize", m.toString(), "-o", tmp.resolve("o2").toString(), "--method", "rtn"},
                shard, "not a regular file");
        refusedQuickly(new String[] {"evaluate", m.toString(), "--data", EVAL}, shard, "not a regular file");
        Path gguf = fifo(tmp.resolve("model.gguf"));
        refusedQuickly(new String[] {"inspect", gguf.toString()}, "model.gguf");
        Path data = fifo(tmp.resolve("eval.txt"));
        refusedQuickly(new String[] {"evaluate", TINY, "--data", data.toString()}, "eval.txt");
    }

    @Test
    void outOfMemoryIsOneLineWithTheLimitAndTheFlagsThatHelp() {
        String line = Main.outOfMemory(new OutOfMemoryError("Java heap space"));
        assertEquals(1, line.lines().count(), line);
        assertTrue(line.contains("Java heap space") && line.contains("GiB of heap") && line.contains("--calib-samples")
                && line.contains("--ctx") && line.contains("-Xmx"), line);
    }
}
