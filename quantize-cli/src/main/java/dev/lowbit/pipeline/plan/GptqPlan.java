package dev.lowbit.pipeline.plan;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.calib.data.CalibrationSet;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.InputFiles;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.recipe.SchemeOverride;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.alloc.AllocationProblem;
import dev.lowbit.ptq.alloc.ExactAllocator;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.gptq.NotPositiveDefiniteException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code lowbit plan --target gptq}: one integer grid (bits, group size) per decoder Linear under a budget of bits per
 * weight, for a GPTQ v1 checkpoint. Each Linear is quantized by GPTQ (asymmetric, damp 0.01, block 128, in order) to
 * each candidate grid on the calibration Hessian of the fp model's inputs and scored by the proxy or by KL
 * ({@link SensitivityPass}); the exact integer program (CP-SAT) picks one grid per Linear; the recipe is a gptq step
 * with per-module overrides, which {@code quantize --recipe} runs and writes as GPTQModel's {@code dynamic} config.
 *
 * <p>Sizes are what the GPTQ file stores for a Linear of K inputs and N outputs at b bits with G groups: qweight
 * 4·(K·b/32)·N, qzeros 4·G·(N·b/32), fp16 scales 2·G·N and the int32 g_idx 4·K bytes; bits per weight = those bytes
 * · 8 over all decoder Linear parameters, the figure {@code quantize} reports as {@code linear_bits_per_weight}.
 */
public final class GptqPlan {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern CANDIDATE = Pattern.compile("w([2-8])(?:g([0-9]+))?");

    private GptqPlan() {}

    /**
     * @param budget      bits per weight of the decoder Linears ({@code 3.5bpw}) or bytes of their GPTQ tensors
     * @param candidates  grids: {@code w3g128}, {@code w4g64}, {@code w4} (per channel)
     * @param klWindows   0: proxy scores; N: KL over the first N calibration windows
     */
    public record Request(Path model, Path output, String budget, Path calib, int calibSamples, int calibSeqlen,
                          List<String> candidates, int klWindows, Path report, boolean force, int threads, double timeLimit) {}

    /** One Linear's grid. */
    public record Choice(String module, QuantScheme scheme, long bytes, double predicted) {}

    /** A uniform setting for comparison: every Linear on one grid. */
    public record Uniform(String label, long bytes, double bitsPerWeight, double predicted, boolean fits) {}

    public record Report(long budgetBytes, long params, long plannedBytes, double predicted, ExactAllocator.Result solved,
                         double sensitivitySeconds, List<Choice> choices, List<Uniform> uniform, ObjectNode json) {
        public double bitsPerWeight() {
            return plannedBytes * 8.0 / params;
        }
    }

    /** {@code w3g128} → 3 bits, groups of 128, asymmetric; {@code w4} → per channel. */
    public static QuantScheme parseCandidate(String s) {
        Matcher m = CANDIDATE.matcher(s.strip());
        if (!m.matches() || m.group(1).equals("5") || m.group(1).equals("6") || m.group(1).equals("7")) {
            throw new BadInputException("--candidates", "unknown GPTQ grid '" + s.strip() + "' (wBgG with B in 2, 3, 4, 8 and G a "
                    + "group size, or wB for per channel: w3g128, w4g64, w4)");
        }
        int g = m.group(2) == null ? -1 : Integer.parseInt(m.group(2));
        if (g == 0 || g > 0 && Integer.bitCount(g) != 1) throw new BadInputException("--candidates", "'" + s.strip() + "': group size must be a power of two");
        return new QuantScheme(Integer.parseInt(m.group(1)), g, false);
    }

    static String label(QuantScheme s) {
        return "w" + s.bits() + (s.groupSize() == -1 ? "" : "g" + s.groupSize());
    }

    /** Bytes of one Linear's GPTQ v1 tensors (see the class comment). */
    static long bytes(QuantScheme s, long in, long out) {
        long groups = s.groupSize() == -1 ? 1 : (in + s.groupSize() - 1) / s.groupSize();
        return 4 * (in * s.bits() / 32) * out + 4 * groups * (out * s.bits() / 32) + 2 * groups * out + 4 * in;
    }

    public static Report run(Request r, Consumer<String> progress) {
        if (!Files.isDirectory(r.model())) throw new BadInputException(r.model(), "lowbit plan needs a Hugging Face model directory (config.json, safetensors)");
        InputFiles.requireRegular(r.calib(), "--calib");
        if (r.candidates().isEmpty()) throw new BadInputException("--candidates", "no candidate grid given");
        List<QuantScheme> grids = new ArrayList<>();
        for (String c : r.candidates()) {
            QuantScheme s = parseCandidate(c);
            if (!grids.contains(s)) grids.add(s);
        }
        Budget budget = Budget.parse(r.budget());
        if (budget instanceof Budget.AsMix) throw new BadInputException("--budget", "--target gptq takes bits per weight (3.5bpw) or bytes, not a llama.cpp mix");

        // shapes first (cheap), so a budget outside the feasible range fails before any calibration
        Map<String, long[]> shapes = new LinkedHashMap<>();
        try (dev.lowbit.io.model.ModelSource src = dev.lowbit.io.model.ModelSource.open(r.model())) {
            var arch = dev.lowbit.io.arch.ModelArchitecture.forHfClass(src.architecture(), src.path().toString());
            for (String name : src.tensorNames()) {
                var slot = arch.parseHf(name);
                if (slot.isPresent() && !slot.get().isBias() && slot.get().role().kind() == dev.lowbit.io.arch.TensorRole.Kind.LINEAR) {
                    shapes.put(name.substring(0, name.length() - ".weight".length()), src.shape(name));
                }
            }
        }
        long params = 0, minBytes = 0, maxBytes = 0;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long[] sh = e.getValue();
            params += sh[0] * sh[1];
            long lo = Long.MAX_VALUE, hi = 0;
            for (QuantScheme g : grids) {
                if (g.groupSize() != -1 && sh[1] % g.groupSize() != 0) {
                    throw new BadInputException("--candidates", label(g) + ": group size does not divide the " + sh[1] + " inputs of " + e.getKey());
                }
                long b = bytes(g, sh[1], sh[0]);
                lo = Math.min(lo, b);
                hi = Math.max(hi, b);
            }
            minBytes += lo;
            maxBytes += hi;
        }
        long budgetBytes = switch (budget) {
            case Budget.Bytes(long b) -> b;
            case Budget.BitsPerWeight(double bpw) -> (long) Math.floor(bpw * params / 8);
            case Budget.AsMix m -> throw new IllegalStateException();
        };
        if (budgetBytes < minBytes || budgetBytes > maxBytes) {
            throw new BadInputException("--budget", String.format(Locale.ROOT, "budget %d bytes (%.4f bits per weight) is outside the feasible "
                    + "range %d … %d bytes (%.4f … %.4f bits per weight) of the candidates %s", budgetBytes, budgetBytes * 8.0 / params,
                    minBytes, maxBytes, minBytes * 8.0 / params, maxBytes * 8.0 / params, r.candidates()));
        }

        long t0 = System.nanoTime();
        int[][] windows = CalibrationSet.first(r.model(), r.calib(), r.calibSeqlen(), r.calibSamples());
        int[][] klWindows = r.klWindows() == 0 ? null : java.util.Arrays.copyOf(windows, Math.min(r.klWindows(), windows.length));
        var kernels = Linalg.kernels();
        SensitivityPass.Quantizer<QuantScheme> gptq = (name, s, w, rows, cols, h, importance) -> {
            try {
                return Gptq.quantize(name, w, rows, cols, h, new GptqConfig(s, 0.01, 128, false, false, null, null)).quantized().dequantize();
            } catch (NotPositiveDefiniteException e) {
                throw new BadInputException(name, "Hessian is not positive definite after damping; use more --calib-samples");
            }
        };
        List<SensitivityPass.Scored<QuantScheme>> scored = SensitivityPass.run(r.model(), windows, grids, gptq,
                (hf, shape) -> new SensitivityPass.Scored<>(hf.substring(0, hf.length() - ".weight".length()), shape, Map.of()),
                klWindows, r.threads(), progress);
        double sensitivitySeconds = (System.nanoTime() - t0) / 1e9;

        List<AllocationProblem.Item> items = new ArrayList<>();
        for (SensitivityPass.Scored<QuantScheme> s : scored) {
            List<AllocationProblem.Option> options = new ArrayList<>();
            for (QuantScheme g : grids) options.add(new AllocationProblem.Option(label(g), bytes(g, s.dims()[1], s.dims()[0]), s.error().get(g)));
            items.add(new AllocationProblem.Item(s.name(), options));
        }
        AllocationProblem problem = new AllocationProblem(items, 0, budgetBytes);
        ExactAllocator.Result solved = ExactAllocator.solve(problem, r.timeLimit());

        List<Choice> choices = new ArrayList<>();
        Map<QuantScheme, Integer> count = new HashMap<>();
        for (int i = 0; i < items.size(); i++) {
            int c = solved.allocation().choiceOf(i);
            AllocationProblem.Option o = items.get(i).options().get(c);
            choices.add(new Choice(items.get(i).name(), grids.get(c), o.bytes(), o.cost()));
            count.merge(grids.get(c), 1, Integer::sum);
        }
        QuantScheme base = choices.getFirst().scheme();
        for (QuantScheme g : grids) if (count.getOrDefault(g, 0) > count.getOrDefault(base, 0)) base = g;
        List<SchemeOverride> overrides = new ArrayList<>();
        for (Choice c : choices) {
            if (c.scheme().equals(base)) continue;
            overrides.add(new SchemeOverride("^" + c.module().replace(".", "\\.") + "$", c.scheme().bits(), c.scheme().groupSize(), null, null));
        }
        ObjectNode params0 = JsonNodeFactory.instance.objectNode();
        params0.put("bits", base.bits());
        params0.put("group_size", base.groupSize());
        params0.put("symmetric", false);
        Recipe recipe = new Recipe(List.of(new Step("gptq", List.of(), List.of(), params0)), overrides,
                new Recipe.Calibration(r.calib().toString(), r.calibSamples(), r.calibSeqlen(), false), Output.of(Output.GPTQ), 0)
                .validate("lowbit plan");

        List<Uniform> uniform = new ArrayList<>();
        for (int j = 0; j < grids.size(); j++) {
            long b = 0;
            double cost = 0;
            for (AllocationProblem.Item it : items) {
                b += it.options().get(j).bytes();
                cost += it.options().get(j).cost();
            }
            uniform.add(new Uniform(label(grids.get(j)), b, b * 8.0 / params, cost, b <= budgetBytes));
        }
        ObjectNode json = report(r, budgetBytes, params, problem, solved, sensitivitySeconds, choices, uniform, scored);
        write(r, recipe, json);
        return new Report(budgetBytes, params, solved.allocation().bytes(), solved.allocation().cost(), solved, sensitivitySeconds,
                choices, uniform, json);
    }

    private static ObjectNode report(Request r, long budgetBytes, long params, AllocationProblem problem, ExactAllocator.Result solved,
                                     double sensSeconds, List<Choice> choices, List<Uniform> uniform,
                                     List<SensitivityPass.Scored<QuantScheme>> scored) {
        ObjectNode root = JSON.createObjectNode();
        root.put("target", "gptq");
        root.put("budget", r.budget());
        root.put("budget_bytes", budgetBytes);
        root.put("params", params);
        root.put("feasible_min_bytes", problem.minBytes());
        root.put("feasible_max_bytes", problem.maxBytes());
        root.put("planned_bytes", solved.allocation().bytes());
        root.put("bits_per_weight", solved.allocation().bytes() * 8.0 / params);
        root.put("predicted", solved.allocation().cost());
        root.put("sensitivity", r.klWindows() > 0 ? "kl" : "hessian");
        if (r.klWindows() > 0) root.put("kl_windows", r.klWindows());
        ObjectNode s = root.putObject("solver");
        s.put("name", "OR-Tools CP-SAT 9.15");
        s.put("optimal", solved.optimal());
        s.put("gap", solved.gap());
        s.put("seconds", solved.seconds());
        s.put("lp_bound", solved.lpBound());
        s.put("items", problem.items().size());
        root.put("sensitivity_seconds", sensSeconds);
        ArrayNode ch = root.putArray("choices");
        for (Choice c : choices) {
            ch.addObject().put("module", c.module()).put("grid", label(c.scheme())).put("bytes", c.bytes()).put("predicted", c.predicted());
        }
        ArrayNode un = root.putArray("uniform");
        for (Uniform u : uniform) {
            un.addObject().put("grid", u.label()).put("bytes", u.bytes()).put("bits_per_weight", u.bitsPerWeight())
                    .put("predicted", u.predicted()).put("fits_budget", u.fits());
        }
        ObjectNode t = root.putObject("sensitivities").putObject("tensors");
        for (SensitivityPass.Scored<QuantScheme> sc : scored) {
            ObjectNode o = t.putObject(sc.name());
            sc.error().forEach((g, v) -> o.put(label(g), v));
        }
        return root;
    }

    private static void write(Request r, Recipe recipe, ObjectNode json) {
        SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("MODEL", r.model()).add("--calib", r.calib());
        Path dir = r.output().toAbsolutePath().getParent();
        String text = recipe.relativeTo(dir).toJson();
        Manifest manifest = new Manifest(text, 0);
        try {
            manifest.input("calibration", List.of(r.calib()));
        } catch (RuntimeException e) {
            throw new BadInputException(r.calib(), "cannot read: " + e.getMessage());
        }
        PlanPipeline.writeFile(r.output(), r.force(), inputs, text, manifest);
        if (r.report() != null) {
            try {
                PlanPipeline.writeFile(r.report(), r.force(), inputs, JSON.writeValueAsString(json) + "\n", manifest);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
