package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.pipeline.output.CliRun;
import dev.lowbit.io.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every flag that does not apply to the chosen format or method is refused with one line naming it (exit 2) before
 * anything is read or written, instead of being silently ignored.
 */
class QuantizeFlagsTest {
    static final String MODEL = SharedData.tinyLlama().toString();
    static final String CALIB = SharedData.data("calib_code.txt").toString();

    @TempDir
    Path tmp;

    /** {@code args} is split on spaces; {@code flag} must be named in the one-line message. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        // --format gguf: the type fixes the grid; no targets/ignore; nothing random
        "--format gguf --type Q4_0 --bits 3                       | --bits",
        "--format gguf --type Q4_0 --group-size 64                | --group-size",
        "--format gguf --type Q4_0 --sym                          | --sym",
        "--format gguf --type Q4_0 --mse-clip                     | --mse-clip",
        "--format gguf --type Q4_0 --targets mlp                  | --targets",
        "--format gguf --type Q4_0 --ignore mlp                   | --ignore",
        "--format gguf --type Q4_0 --seed 3                       | --seed",
        "--format gguf --type Q4_0 --calib CALIB --calib-random   | --calib-random",
        "--format gguf --type Q4_0 --act-order                    | --act-order",
        "--format gguf --type Q4_0 --damp 0.02                    | --damp",
        // safetensors formats: GGUF-only flags
        "--method rtn --type Q4_0                                 | --type",
        "--method rtn --pure                                      | --pure",
        "--method rtn --tensor-type ffn=F16                       | --tensor-type",
        "--method rtn --imatrix x.dat                             | --imatrix",
        "--method rtn --allow-requantize                          | --allow-requantize",
        // rtn is data-free and has no GPTQ knobs
        "--method rtn --calib CALIB                               | --calib",
        "--method rtn --block-size 64                             | --block-size",
        "--method rtn --damp 0.1                                  | --damp",
        "--method rtn --static-groups                             | --static-groups",
        "--method rtn --loss-clip                                 | --loss-clip",
        // the GPTQ-loss clip search: per channel, integer grids, not beside the MSE one
        "--method gptq --calib CALIB --group-size 128 --loss-clip | --loss-clip",
        "--method gptq --calib CALIB --group-size -1 --mse-clip --loss-clip | --loss-clip",
        "--format gguf --type Q4_0 --method gptq --calib CALIB --loss-clip | --loss-clip",
        // calibration details without calibration; a seed with nothing random
        "--method gptq --calib-samples 4                          | --calib-samples",
        "--method gptq --calib CALIB --seed 5                     | --seed",
        // --recipe fixes the whole run
        "--recipe R --bits 3                                      | --bits",
        "--recipe R --method rtn                                  | --method",
        "--recipe R --format gguf                                 | --format",
        "--recipe R --calib CALIB                                 | --calib",
        "--recipe R --seed 1                                      | --seed",
    })
    void refusedWithOneLineNamingTheFlag(String args, String flag) throws IOException {
        Path recipe = tmp.resolve("r.json");
        Files.writeString(recipe, "{\"version\": 2, \"steps\": [{\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}}");
        Path out = tmp.resolve("out");
        List<String> argv = new ArrayList<>(List.of("quantize", MODEL, "-o", out.toString(), "-q"));
        for (String a : args.strip().split(" +")) argv.add(a.equals("CALIB") ? CALIB : a.equals("R") ? recipe.toString() : a);
        CliRun r = CliRun.run(argv.toArray(String[]::new));
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains(flag), r.err());
        assertFalse(Files.exists(out));
    }

    /**
     * An importance matrix of the source model does not describe what transformed Linears read (x/s after AWQ's folds,
     * x·R after a rotation): a recipe that transforms into GGUF with an imatrix file is refused before any work.
     */
    @Test
    void imatrixFileWithATransformIntoGgufIsRefused() throws IOException {
        Path imatrix = tmp.resolve("i.dat");
        Files.writeString(imatrix, "not read");
        Path recipe = tmp.resolve("r.json");
        Files.writeString(recipe, "{\"version\": 2, \"steps\": [{\"type\": \"rotate\"}, {\"type\": \"rtn\"}], "
                + "\"output\": {\"format\": \"gguf\", \"type\": \"Q4_K_M\", \"imatrix\": \"" + imatrix + "\"}}");
        Path out = tmp.resolve("o.gguf");
        CliRun r = CliRun.run("quantize", MODEL, "-o", out.toString(), "--recipe", recipe.toString(), "-q");
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("--imatrix") && r.err().contains("transform"), r.err());
        assertFalse(Files.exists(out));
    }

    /** The same values given as defaults are fine: what matters is what was typed. */
    @Test
    void defaultsAreNotTyped() {
        CliRun r = CliRun.run("quantize", SharedData.resolve("data/gguf/stories260K/stories260K-f32.gguf").toString(),
                "-o", tmp.resolve("q.gguf").toString(), "--format", "gguf", "--type", "Q8_0", "--tensor-type", "ffn_down=F16",
                "-q", "--json");
        assertEquals(0, r.code(), r.err());
    }

    /** awq's fp_inputs set before gptq (which calibrates on quantized outputs) is exit 2, one line naming it, nothing written. */
    @Test
    void fpInputsBeforeGptqIsRefused() throws IOException {
        Path recipe = tmp.resolve("awq-gptq.yaml");
        Files.writeString(recipe, """
                version: 2
                steps:
                  - {type: awq, fp_inputs: true}
                  - {type: gptq}
                calibration: {data: %s, samples: 1, seqlen: 32}
                output: {format: gptq}
                """.formatted(SharedData.data("calib_code.txt")));
        Path out = tmp.resolve("o");
        CliRun r = CliRun.run("quantize", MODEL, "-o", out.toString(), "--recipe", recipe.toString(), "-q");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("fp_inputs: true does not apply here") && r.err().strip().lines().count() == 1, r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void unknownStepNamesItAndListsTheKnownOnes() {
        CliRun r = CliRun.run("quantize", MODEL, "-o", tmp.resolve("o").toString(), "--method", "hqq", "-q");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("unknown step 'hqq'") && r.err().contains("awq, smooth"), r.err());
    }

    @Test
    void listSteps() {
        CliRun r = CliRun.run("quantize", "--list-steps");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("rtn ")), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("gptq ")), r.out());
        assertTrue(r.out().contains("damp_percent=0.01"), r.out());
    }
}
