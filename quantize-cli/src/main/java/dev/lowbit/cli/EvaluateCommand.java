package dev.lowbit.cli;

import dev.lowbit.calib.eval.EvalRequest;
import dev.lowbit.calib.eval.EvalResult;
import dev.lowbit.calib.eval.Evaluator;
import dev.lowbit.calib.eval.Protocol;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lowbit evaluate MODEL --data FILE}: perplexity, and KL / top-1 against a baseline. */
@Command(name = "evaluate", mixinStandardHelpOptions = true, parameterListHeading = "%nArguments:%n", optionListHeading = "%nOptions:%n",
        description = {"Perplexity of a Llama-family model (Hugging Face directory, or .gguf file read in place) on a text or "
                + "JSONL file (fp32 on the CPU). With --baseline, also mean KL(baseline || model), top-1 agreement and max |delta logit|."})
final class EvaluateCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "model directory (config.json, safetensors, tokenizer.json) or .gguf file")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "UTF-8 text, or .jsonl with a 'text' field")
    Path data;

    @Option(names = "--ctx", defaultValue = "512", description = "window length in tokens (default: ${DEFAULT-VALUE})")
    int ctx;

    @Option(names = "--max-windows", defaultValue = "0", paramLabel = "N", description = "evaluate at most N windows (default: all)")
    int maxWindows;

    @Option(names = "--baseline", paramLabel = "MODEL", description = "reference model for KL / top-1 agreement")
    Path baseline;

    @Option(names = "--protocol", defaultValue = "reference", paramLabel = "reference|llamacpp",
            description = "reference: score positions 1..ctx-1; llamacpp: only the second half of each window")
    String protocol;

    @Option(names = "--json", description = "print one JSON object")
    boolean json;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "threads (default: all processors): a model whose layers stay resident scores that many batches side by side, one PyTorch thread each; a streamed one runs one batch on that many PyTorch threads")
    int threads;

    @Option(names = "--batch", defaultValue = "4", paramLabel = "N", description = "windows per forward pass (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--verbose", description = "stack traces on errors")
    boolean verbose;

    @Option(names = {"-q", "--quiet"}, description = "no progress on stderr (a bar on a terminal, else a line per batch of windows)")
    boolean quiet;

    @Option(names = "--activations", paramLabel = "intN|fp8-token|-tensor|-tensor-dynamic",
            description = "quantize Linear inputs at run time, symmetric N-bit int (2..8) or FP8 E4M3: per token (dynamic), per tensor with static scales "
                    + "from --act-calib, or per tensor dynamic (a checkpoint whose config declares input_activations applies them by itself)")
    String activations;

    @Option(names = "--act-inputs", split = ",", paramLabel = "qkv,o,gate_up,down",
            description = "which Linear inputs --activations quantizes (default: all four)")
    java.util.List<String> actInputs;

    @Option(names = "--act-layers", split = ",", paramLabel = "N,M",
            description = "which decoder layers --activations quantizes, counted from 0 (default: all)")
    java.util.List<Integer> actLayers;

    @Option(names = "--act-clip", paramLabel = "R", description = "--activations: scales times R in (0, 1], the largest |x| clamp "
            + "(QuaRot: 0.9 for its per-token activations; default 1, no clipping)")
    Float actClip;

    @Option(names = "--act-calib", paramLabel = "FILE", description = "calibration text for static activation scales (max |x| / qmax)")
    Path actCalib;

    @Option(names = "--act-calib-samples", defaultValue = "32", paramLabel = "N", description = "windows of --ctx tokens for --act-calib (default: ${DEFAULT-VALUE})")
    int actCalibSamples;

    @Override
    public Integer call() {
        Protocol p = switch (protocol.toLowerCase(Locale.ROOT)) {
            case "reference" -> Protocol.REFERENCE;
            case "llamacpp" -> Protocol.LLAMACPP;
            default -> throw new Main.UsageException("--protocol must be reference or llamacpp, not '" + protocol + "'");
        };
        if (ctx < 2) throw new Main.UsageException("--ctx must be at least 2");
        if (batch < 1) throw new Main.UsageException("--batch must be at least 1");
        if (maxWindows < 0) throw new Main.UsageException("--max-windows must be 0 (all) or positive, got " + maxWindows);
        if (threads < 0) throw new Main.UsageException("--threads must be 0 (all processors) or positive, got " + threads);
        dev.lowbit.calib.eval.ActivationRequest act = activationRequest();
        EvalResult r;
        // a .gguf model or baseline is read in place, rows dequantized as the runner loads them
        try (ConsoleProgress progress = ConsoleProgress.forTask("evaluate", quiet, ctx)) {
            EvalRequest req = new EvalRequest(model, data, ctx, maxWindows, p, baseline, threads, batch, act);
            // an exported .onnx model runs on ONNX Runtime, the same protocols and figures
            r = dev.lowbit.calib.onnx.OrtEvaluator.isOnnx(model) ? dev.lowbit.calib.onnx.OrtEvaluator.evaluate(req, progress)
                    : Evaluator.evaluate(req, progress);
        }
        // a CI gate reads the exit code: a perplexity or comparison that is not a number is a failure, not a result
        requireFinite("perplexity", r.perplexity());
        if (r.hasBaseline()) {
            requireFinite("baseline perplexity", r.baselinePerplexity());
            requireFinite("KL divergence", r.kl());
            requireFinite("max |delta logit|", r.maxAbsDeltaLogit());
        }
        if (json) {
            System.out.println(r.toJson(ctx));
        } else {
            System.out.printf(Locale.ROOT, "perplexity %.4f  (%d windows of %d, %d scored of %d tokens; %.1f s, forward %.0f tokens/s)%n",
                    r.perplexity(), r.windows(), ctx, r.scored(), r.tokens(), r.seconds(), r.forwardTokensPerSecond(ctx));
            if (r.hasBaseline()) {
                System.out.printf(Locale.ROOT, "baseline perplexity %.4f  (model / baseline = %.4f)%n",
                        r.baselinePerplexity(), r.perplexity() / r.baselinePerplexity());
                System.out.printf(Locale.ROOT, "KL(baseline || model) %.6f  top-1 agreement %.4f  max |delta logit| %.4f%n",
                        r.kl(), r.top1Agreement(), r.maxAbsDeltaLogit());
            }
        }
        return 0;
    }

    /** {@code --activations} and its companions, or null; a companion without it, or one that does not apply, is refused. */
    private dev.lowbit.calib.eval.ActivationRequest activationRequest() {
        if (activations == null) {
            if (actInputs != null) throw new Main.UsageException("--act-inputs needs --activations");
            if (actLayers != null) throw new Main.UsageException("--act-layers needs --activations");
            if (actCalib != null) throw new Main.UsageException("--act-calib needs --activations");
            if (actClip != null) throw new Main.UsageException("--act-clip needs --activations");
            return null;
        }
        dev.lowbit.io.quant.ActivationScheme scheme = dev.lowbit.io.quant.ActivationScheme.named(activations);
        if (scheme == null) {
            throw new Main.UsageException("--activations must be intN-token, intN-tensor or intN-tensor-dynamic with N in 2..8, "
                    + "or fp8-token, fp8-tensor, fp8-tensor-dynamic (E4M3), not '" + activations + "'");
        }
        if (scheme.dynamic() && actCalib != null) throw new Main.UsageException("--act-calib does not apply to dynamic --activations " + activations);
        if (!scheme.dynamic() && actCalib == null) throw new Main.UsageException("--activations " + activations + " needs --act-calib FILE for its static scales");
        if (actCalibSamples < 1) throw new Main.UsageException("--act-calib-samples must be at least 1");
        if (actClip != null && !(actClip > 0 && actClip <= 1)) throw new Main.UsageException("--act-clip must be in (0, 1], got " + actClip);
        java.util.Set<dev.lowbit.calib.model.LinearInput> inputs = java.util.EnumSet.noneOf(dev.lowbit.calib.model.LinearInput.class);
        for (String s : actInputs == null ? java.util.List.of("qkv", "o", "gate_up", "down") : actInputs) {
            try {
                inputs.add(dev.lowbit.calib.model.LinearInput.valueOf(s.strip().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new Main.UsageException("--act-inputs: unknown input '" + s + "' (qkv, o, gate_up, down)");
            }
        }
        return new dev.lowbit.calib.eval.ActivationRequest(scheme, inputs, actCalib, actCalibSamples, ctx, actClip == null ? 1f : actClip,
                actLayers == null ? null : java.util.Set.copyOf(actLayers));
    }

    private static void requireFinite(String what, double v) {
        if (!Double.isFinite(v)) {
            throw new Main.ResultException("evaluate: " + what + " is " + v + ": the forward pass produced non-finite "
                    + "logits (weights too large for f32 activations?); the result cannot be used");
        }
    }
}
