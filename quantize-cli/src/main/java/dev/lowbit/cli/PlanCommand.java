package dev.lowbit.cli;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.pipeline.plan.PlanPipeline;
import dev.lowbit.pipeline.plan.SensitivityPass;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lowbit plan MODEL --target gguf --budget X --calib FILE -o plan.json}: per-tensor types under a size budget. */
@Command(name = "plan", mixinStandardHelpOptions = true, parameterListHeading = "%nArguments:%n", optionListHeading = "%nOptions:%n",
        description = {"Mixed-precision bit allocation: scores every decoder Linear under every candidate type by its output "
                + "error on the calibration data, tr(dW H dW^T), chooses one type per Linear minimising the total under the "
                + "size budget (an exact integer program, OR-Tools CP-SAT), and writes a recipe for lowbit quantize --recipe."})
final class PlanCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "Hugging Face model directory")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "PLAN", description = "the recipe to write (JSON)")
    Path output;

    @Option(names = "--target", defaultValue = "gguf", paramLabel = "gguf|gptq", description = "what the recipe writes: gguf (ggml types per tensor) or gptq (bits and group size per Linear, "
            + "--budget in bits per weight of the Linears' codes + scales + zeros + g_idx, --candidates like w3g128,w4g128; compressed-tensors is not planned yet)")
    String target;

    @Option(names = "--budget", required = true, paramLabel = "X",
            description = "bytes of tensor data (14619616, 14.6MB, 1.2GiB), bits per weight (3.5bpw) or a llama.cpp mix whose size to match (Q3_K_M)")
    String budget;

    @Option(names = "--calib", required = true, paramLabel = "FILE", description = "calibration text (the Hessians; also the recipe's calibration)")
    Path calib;

    @Option(names = "--calib-samples", defaultValue = "128", paramLabel = "N", description = "calibration windows (default: ${DEFAULT-VALUE})")
    int calibSamples;

    @Option(names = "--calib-seqlen", defaultValue = "512", paramLabel = "N", description = "tokens per window (default: ${DEFAULT-VALUE})")
    int calibSeqlen;

    @Option(names = "--method", defaultValue = "rtn", paramLabel = "rtn|gptq",
            description = "how candidates are quantized when scored, and the recipe's quantizer: rtn (the type's importance-weighted search, as llama-quantize with an imatrix) or gptq (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--candidates", split = ",", paramLabel = "TYPE", description = "ggml types to choose from (default: Q2_K,Q3_K,Q4_K,IQ4_XS,IQ4_NL,Q5_K,Q6_K,Q8_0,F16)")
    List<String> candidates = new ArrayList<>();

    @Option(names = "--base", paramLabel = "MIX", description = "llama.cpp mix that fixes the other tensors (embeddings, output, norms) and that the recipe names (default: the --budget mix, else Q4_K_M)")
    String base;

    @Option(names = "--pin", paramLabel = "REGEX=TYPE", description = "Linears whose GGUF name matches take this type (repeatable)")
    List<String> pins = new ArrayList<>();

    @Option(names = "--uniform-layers", description = "every layer's Linear of one kind (attn_q, ffn_down, ...) takes the same type")
    boolean uniformLayers;

    @Option(names = "--sensitivity", defaultValue = "hessian", paramLabel = "hessian|kl",
            description = "how a candidate is scored: hessian = tr(ΔW H ΔWᵀ)/n of the Linear alone (fast); kl = KL divergence of the "
                    + "model's output with only that Linear quantized, over --kl-windows calibration windows (sees how later layers amplify an error)")
    String sensitivity;

    @Option(names = "--kl-windows", paramLabel = "N", description = "--sensitivity kl: calibration windows the KL is measured on (default: 8)")
    Integer klWindows;

    @Option(names = "--sensitivities", paramLabel = "REPORT", description = "reuse the sensitivity table of an earlier --report instead of measuring")
    Path sensitivities;

    @Option(names = "--report", paramLabel = "FILE", description = "write the full report as JSON (choices, solver gap and time, fronts, sensitivities)")
    Path report;

    @Option(names = "--plot", paramLabel = "FILE.svg", description = "write the Pareto front (bits per weight vs predicted sensitivity) as an SVG")
    Path plot;

    @Option(names = "--measured", paramLabel = "LABEL=PPL", description = "a measured perplexity to print on the plot beside the plan (plan=PPL) or a llama.cpp mix (Q3_K_M=PPL); repeatable")
    List<String> measured = new ArrayList<>();

    @Option(names = "--imatrix", paramLabel = "FILE", description = "importance matrix (llama.cpp GGUF or .dat) the recipe quantizes with (method rtn), instead of one computed from --calib at quantize time")
    Path imatrix;

    @Option(names = "--time-limit", defaultValue = "60", paramLabel = "S", description = "CP-SAT time limit per solve in seconds (default: ${DEFAULT-VALUE})")
    double timeLimit;

    @Option(names = "--threads", paramLabel = "N", description = "compute threads (default: all cores)")
    Integer threads;

    @Option(names = "--force", description = "replace outputs lowbit wrote")
    boolean force;

    @Option(names = {"-q", "--quiet"}, description = "no per-layer progress lines on stderr")
    boolean quiet;

    @Option(names = "--verbose", description = "show stack traces on errors")
    boolean verbose;

    @Override
    public Integer call() {
        if (!target.equals("gguf") && !target.equals("gptq")) {
            throw new Main.UsageException("--target " + target + " is not planned yet (gguf, gptq)");
        }
        if (calibSamples < 1) throw new Main.UsageException("--calib-samples must be at least 1, got " + calibSamples);
        if (calibSeqlen < 2) throw new Main.UsageException("--calib-seqlen must be at least 2, got " + calibSeqlen);
        if (threads != null && threads < 1) throw new Main.UsageException("--threads must be at least 1, got " + threads);
        if (!(timeLimit > 0)) throw new Main.UsageException("--time-limit must be positive");
        SensitivityPass.Method m = switch (method.toLowerCase(Locale.ROOT)) {
            case "rtn" -> SensitivityPass.Method.RTN;
            case "gptq" -> SensitivityPass.Method.GPTQ;
            default -> throw new Main.UsageException("--method must be rtn or gptq, not '" + method + "'");
        };
        int kl = switch (sensitivity) {
            case "hessian" -> {
                if (klWindows != null) throw new Main.UsageException("--kl-windows applies to --sensitivity kl only");
                yield 0;
            }
            case "kl" -> {
                if (klWindows != null && (klWindows < 1 || klWindows > calibSamples)) {
                    throw new Main.UsageException("--kl-windows must be 1.." + calibSamples + " (the calibration windows), got " + klWindows);
                }
                yield klWindows == null ? Math.min(8, calibSamples) : klWindows;
            }
            default -> throw new Main.UsageException("--sensitivity must be hessian or kl, not '" + sensitivity + "'");
        };
        if (sensitivities != null && (kl > 0 || klWindows != null)) {
            throw new Main.UsageException("--sensitivity kl does not apply with --sensitivities REPORT: the report's scores are reused as they are");
        }
        int t = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
        if (target.equals("gptq")) {
            // the GPTQ plan quantizes with GPTQ, scores fresh, plots nothing and has no llama.cpp mix to build on
            for (String[] f : new String[][] {{"--method", method.equals("rtn") ? null : method}, {"--sensitivities", str(sensitivities)},
                    {"--base", base}, {"--imatrix", str(imatrix)}, {"--plot", str(plot)}, {"--uniform-layers", uniformLayers ? "" : null},
                    {"--pin", pins.isEmpty() ? null : ""}, {"--measured", measured.isEmpty() ? null : ""}}) {
                if (f[1] != null) throw new Main.UsageException(f[0] + " does not apply to --target gptq");
            }
            dev.lowbit.pipeline.plan.GptqPlan.Report r = dev.lowbit.pipeline.plan.GptqPlan.run(new dev.lowbit.pipeline.plan.GptqPlan.Request(
                    model, output, budget, calib, calibSamples, calibSeqlen,
                    candidates.isEmpty() ? List.of("w2g64", "w3g128", "w3g64", "w4g128", "w4g64", "w8g128") : candidates,
                    kl, report, force, t, timeLimit), quiet ? msg -> {} : msg -> System.err.println("lowbit: " + msg));
            System.out.print(PlanText.render(r));
            return 0;
        }
        List<GgmlType> types = new ArrayList<>();
        for (String c : candidates) {
            try {
                types.add(GgmlType.valueOf(c.strip().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new BadInputException("--candidates", "unknown ggml type '" + c.strip() + "'");
            }
        }
        if (types.isEmpty()) types.addAll(PlanPipeline.DEFAULT_CANDIDATES);
        LlamaFtype baseMix = null;
        if (base != null) {
            try {
                baseMix = LlamaFtype.parse(base);
            } catch (IllegalArgumentException e) {
                throw new BadInputException("--base", e.getMessage());
            }
        }
        PlanPipeline.Report r = PlanPipeline.run(new PlanPipeline.Request(model, output, budget, baseMix, calib, calibSamples,
                calibSeqlen, types, m, sensitivities, pins, uniformLayers, report, plot, force, t, timeLimit, measured, imatrix, kl),
                quiet ? msg -> {} : msg -> System.err.println("lowbit: " + msg));
        System.out.print(PlanText.render(r));
        return 0;
    }

    private static String str(Object o) {
        return o == null ? null : o.toString();
    }
}
