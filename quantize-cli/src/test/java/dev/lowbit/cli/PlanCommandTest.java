package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.pipeline.output.CliRun;
import dev.lowbit.io.SharedData;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.recipe.SchemeOverride;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code lowbit plan} on tiny-llama-code: refusals before any work, and a real (small) plan end to end. */
class PlanCommandTest {
    static final String MODEL = SharedData.tinyLlama().toString();
    static final String CALIB = SharedData.data("calib_code.txt").toString();

    @TempDir
    Path tmp;

    private CliRun plan(String... extra) {
        List<String> argv = new ArrayList<>(List.of("plan", MODEL, "--calib", CALIB, "-o", tmp.resolve("plan.json").toString(), "-q"));
        argv.addAll(List.of(extra));
        return CliRun.run(argv.toArray(String[]::new));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        // below the smallest mix (every Linear Q2_K, embeddings and output as Q3_K_M has them) and above f32
        "--budget 1MB                                  | feasible range",
        "--budget 1GB                                  | feasible range",
        "--budget 0.5bpw                               | feasible range",
        "--budget 3.5bpw --candidates Q4_K,Q9_X        | Q9_X",
        "--budget Q3_K_M --candidates Q4_K --pin ffn_down=Q6_K | Q6_K",
        "--budget Q3_Z                                 | Q3_Z",
        "--budget Q3_K_M --base Q7                     | Q7",
        "--budget Q3_K_M --method awq                  | --method",
        "--budget Q3_K_M --target compressed-tensors   | --target",
        "--budget Q3_K_M --target gptq                 | --budget",
        "--budget 3.5bpw --target gptq --candidates w5g128 | w5g128",
        "--budget 3.5bpw --target gptq --candidates w3g100 | power of two",
        "--budget 9bpw --target gptq --candidates w3g128,w4g128 | feasible range",
        "--budget 3.5bpw --target gptq --plot x.svg    | --plot",
        "--budget 3.5bpw --target gptq --method rtn --base Q4_K_M | --base",
        "--budget Q3_K_M --measured Q9_K=14.1          | --measured",
        "--budget Q3_K_M --method gptq --imatrix x.dat | --imatrix",
        "--budget Q3_K_M --measured plan=-1            | --measured",
        "--budget Q3_K_M --kl-windows 4                | --kl-windows",
        "--budget Q3_K_M --sensitivity fisher          | --sensitivity",
        "--budget Q3_K_M --sensitivity kl --kl-windows 500 | --kl-windows",
    })
    void refusedWithOneLineBeforeAnyWork(String args, String named) {
        CliRun r = plan(args.strip().split(" +"));
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains(named), r.err());
        assertFalse(Files.exists(tmp.resolve("plan.json")));
    }

    @Test
    void feasibleRangeIsStatedInBytesAndBitsPerWeight() {
        CliRun r = plan("--budget", "1MB", "--base", "Q3_K_M");
        // smallest: 42 Linears of 18,874,368 weights at Q2_K (84 B / 256) plus Q3_K_M's token_embd (Q3_K), output (Q6_K)
        // and f32 norms; computed here from the spec sizes, independently of the planner
        long linears = 18_874_368L / 256 * 84;
        long embd = 8192L * 512 / 256 * 110, output = 8192L * 512 / 256 * 210, norms = (13L * 512) * 4;
        assertTrue(r.err().contains((linears + embd + output + norms) + " … "), r.err());
    }

    /** A small real plan: sensitivities on one short window, two candidates; then replanned from the report alone. */
    @Test
    void plansWithinTheBudgetAndReplansFromTheReport() throws Exception {
        Path report = tmp.resolve("report.json"), svg = tmp.resolve("front.svg");
        CliRun r = plan("--budget", "5bpw", "--candidates", "Q4_K,Q8_0", "--calib-samples", "1", "--calib-seqlen", "32",
                "--report", report.toString(), "--plot", svg.toString(), "--threads", "2", "--measured", "plan=13.9876",
                "--measured", "Q8_0=13.7155");
        assertEquals(0, r.code(), r.err());
        JsonNode rep = new ObjectMapper().readTree(report.toFile());
        long params = rep.path("params").asLong();
        assertEquals(27_269_632L, params);
        long budget = (long) Math.floor(5.0 * params / 8);
        assertEquals(budget, rep.path("budget_bytes").asLong());
        assertTrue(rep.path("planned_bytes").asLong() <= budget);
        assertTrue(rep.path("solver").path("optimal").asBoolean());
        assertEquals(0.0, rep.path("solver").path("gap").asDouble());
        assertTrue(rep.path("solver").path("lp_bound").asDouble() <= rep.path("predicted").asDouble() * (1 + 1e-9));
        // recomputed from the choices: the sizes are the spec's (Q4_K 144 B, Q8_0 34 B per 32·k weights)
        long linearBytes = 0;
        double predicted = 0;
        for (JsonNode c : rep.path("choices")) {
            long n = elements(c.path("tensor").asText());
            long expect = c.path("type").asText().equals("Q4_K") ? n / 256 * 144 : n / 32 * 34;
            assertEquals(expect, c.path("bytes").asLong(), c.toString());
            linearBytes += expect;
            predicted += rep.path("sensitivities").path("tensors").path(c.path("tensor").asText()).path(c.path("type").asText()).asDouble();
        }
        assertEquals(42, rep.path("choices").size());
        assertEquals(rep.path("planned_bytes").asLong(), linearBytes + rep.path("fixed_bytes").asLong());
        assertEquals(rep.path("predicted").asDouble(), predicted, 1e-9 * predicted);
        // the budget lies strictly between all-Q4_K and all-Q8_0, so both types must appear
        assertTrue(rep.path("choices").toString().contains("Q4_K") && rep.path("choices").toString().contains("Q8_0"));
        // the recipe: one exact-name override per Linear, output gguf, and lowbit's own reader accepts it
        Recipe recipe = Recipe.read(tmp.resolve("plan.json"));
        assertEquals("gguf", recipe.output().format());
        assertEquals(42, recipe.overrides().size());
        for (SchemeOverride o : recipe.overrides()) assertTrue(o.pattern().startsWith("^blk\\.") && o.pattern().endsWith("$"), o.pattern());
        String plot = Files.readString(svg);
        assertTrue(plot.startsWith("<svg") && plot.contains("<circle") && plot.strip().endsWith("</svg>"));
        assertTrue(plot.contains("plan (ppl 13.9876)") && plot.contains("Q8_0 (ppl 13.7155)"), plot);

        // replanning at a tighter budget from the table alone: no calibration pass, a smaller plan of higher cost
        Path report2 = tmp.resolve("report2.json");
        CliRun again = CliRun.run("plan", MODEL, "--calib", CALIB, "-o", tmp.resolve("plan2.json").toString(), "-q",
                "--budget", "4.9bpw", "--candidates", "Q4_K,Q8_0", "--sensitivities", report.toString(), "--report", report2.toString());
        assertEquals(0, again.code(), again.err());
        JsonNode rep2 = new ObjectMapper().readTree(report2.toFile());
        assertTrue(rep2.path("planned_bytes").asLong() < rep.path("planned_bytes").asLong());
        assertTrue(rep2.path("predicted").asDouble() >= rep.path("predicted").asDouble());
    }

    /**
     * {@code --target gptq}: one grid per Linear within 3.5 bits per weight, proved optimal; the recipe it writes,
     * quantized, stores exactly the planned bytes ({@code linear_bits_per_weight} of the written checkpoint equals the
     * plan's, counted independently by the writer from the tensors it wrote).
     */
    @Test
    void gptqPlanIsExactlyTheSizeTheCheckpointStores() throws Exception {
        Path report = tmp.resolve("gptq-report.json"), planFile = tmp.resolve("plan.json");
        CliRun r = plan("--target", "gptq", "--budget", "3.5bpw", "--candidates", "w3g128,w4g128", "--calib-samples", "2",
                "--calib-seqlen", "32", "--report", report.toString(), "--threads", "2");
        assertEquals(0, r.code(), r.err());
        JsonNode rep = new ObjectMapper().readTree(report.toFile());
        assertTrue(rep.path("solver").path("optimal").asBoolean());
        assertTrue(rep.path("planned_bytes").asLong() <= rep.path("budget_bytes").asLong());
        assertEquals(42, rep.path("choices").size());
        String choices = rep.path("choices").toString();
        assertTrue(choices.contains("w3g128") && choices.contains("w4g128"), "3.5 lies between uniform w3 and w4: both appear");
        Recipe recipe = Recipe.read(planFile);
        assertEquals("gptq", recipe.output().format());
        Path out = tmp.resolve("planned-gptq");
        CliRun q = CliRun.run("quantize", MODEL, "-o", out.toString(), "--recipe", planFile.toString(), "--json", "-q", "--threads", "2");
        assertEquals(0, q.code(), q.err());
        double written = new ObjectMapper().readTree(q.out()).path("linear_bits_per_weight").asDouble();
        assertEquals(rep.path("bits_per_weight").asDouble(), written, 1e-12);
    }

    /** Elements of a tiny-llama-code Linear by its GGUF name (hidden 512, 4 kv heads of 64, MLP 1536). */
    private static long elements(String name) {
        if (name.contains("attn_q") || name.contains("attn_output")) return 512L * 512;
        if (name.contains("attn_k") || name.contains("attn_v")) return 256L * 512;
        return 1536L * 512;
    }
}
