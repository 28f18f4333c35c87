package dev.lowbit.cli;

import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.pipeline.gguf.GgufQuantizePipeline;
import dev.lowbit.pipeline.gguf.GgufQuantizeReport;
import dev.lowbit.pipeline.quantize.QuantizePipeline;
import dev.lowbit.pipeline.quantize.QuantizeReport;
import dev.lowbit.pipeline.recipe.Recipe;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "quantize", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Quantize a checkpoint and write what a runtime loads:",
            "  --format gptq | compressed-tensors: every Linear inside the decoder layers of a Hugging Face checkpoint",
            "    becomes GPTQ v1 or compressed-tensors pack-quantized (transformers / vLLM); embeddings, norms and",
            "    lm_head pass through; the run is saved as recipe.json in OUT (replay with --recipe).",
            "  --format gguf --type MIX: a llama.cpp GGUF file with one of llama-quantize's mixes (Q8_0, Q4_0, Q4_K_M,",
            "    Q3_K_M, Q2_K, Q6_K, TQ2_0, ...), each tensor's type chosen as llama-quantize does; MODEL may also be",
            "    a .gguf; k-quants use an importance matrix from --imatrix FILE or computed from --calib text.",
            "",
            "Methods:",
            "  rtn   round to nearest, data-free, seconds",
            "  gptq  Frantar et al.: calibrated, error-compensating; needs --calib text",
            "",
            "Examples:",
            "  lowbit quantize ../shared/models/tiny-llama-code -o out/w4 --method gptq --bits 4 --group-size 128 \\",
            "      --calib ../shared/data/calib_code.txt",
            "  lowbit quantize MODEL -o out/w4-rtn --method rtn --bits 4 --format compressed-tensors",
            "  lowbit quantize MODEL -o out/again --recipe out/w4/recipe.json",
            "  lowbit quantize MODEL -o tiny-q4km.gguf --format gguf --type Q4_K_M --calib ../shared/data/calib_code.txt",
            "  lowbit quantize model-f32.gguf -o q8.gguf --format gguf --type Q8_0 --tensor-type 'ffn_down=F16'"
        })
final class QuantizeCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "Hugging Face model directory (config.json + safetensors)")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT", description = "output directory (must not exist unless --force)")
    Path output;

    @Option(names = "--method", defaultValue = "gptq", description = "rtn | gptq (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--bits", defaultValue = "4", description = "bits per weight, 2..8 (default: ${DEFAULT-VALUE})")
    int bits;

    @Option(names = "--group-size", defaultValue = "128", description = "input channels per scale; -1 = per output channel (default: ${DEFAULT-VALUE})")
    int groupSize;

    @Option(names = "--sym", description = "symmetric grid (zero point fixed at 2^(bits-1)); default is asymmetric")
    boolean sym;

    @Option(names = "--mse-clip", description = "search a shrunk range per group minimising the error (reference mse=True)")
    boolean mseClip;

    @Option(names = "--act-order", description = "GPTQ: quantize columns in order of decreasing Hessian diagonal (desc_act)")
    boolean actOrder;

    @Option(names = "--static-groups", description = "GPTQ with --act-order: fix group parameters before the sweep, so g_idx stays monotone")
    boolean staticGroups;

    @Option(names = "--damp", defaultValue = "0.01", description = "GPTQ dampening, fraction of mean diag(H) (default: ${DEFAULT-VALUE})")
    double damp;

    @Option(names = "--block-size", defaultValue = "128", description = "GPTQ lazy-batch block size (default: ${DEFAULT-VALUE})")
    int blockSize;

    @Option(names = "--calib", paramLabel = "FILE", description = "calibration text (.txt, or .jsonl with a 'text' field)")
    Path calib;

    @Option(names = "--calib-samples", defaultValue = "128", description = "calibration windows (default: ${DEFAULT-VALUE})")
    int calibSamples;

    @Option(names = "--calib-seqlen", defaultValue = "512", description = "tokens per calibration window (default: ${DEFAULT-VALUE})")
    int calibSeqlen;

    @Option(names = "--calib-random", description = "seeded random windows instead of the first N non-overlapping ones")
    boolean calibRandom;

    @Option(names = "--format", defaultValue = "gptq", description = "gptq | compressed-tensors | gguf (default: ${DEFAULT-VALUE})")
    String format;

    @Option(names = "--type", paramLabel = "MIX", description = "gguf: llama.cpp mix, e.g. Q4_K_M, Q8_0, Q2_K, TQ2_0")
    String type;

    @Option(names = "--imatrix", paramLabel = "FILE", description = "gguf: importance matrix (llama.cpp GGUF or legacy .dat)")
    Path imatrix;

    @Option(names = "--tensor-type", paramLabel = "REGEX=TYPE", description = "gguf: type for tensors whose name matches (repeatable; first match wins)")
    List<String> tensorTypes = new ArrayList<>();

    @Option(names = "--pure", description = "gguf: no mix rules, every quantizable tensor gets the mix's default type")
    boolean pure;

    @Option(names = "--allow-requantize", description = "gguf: allow re-quantizing tensors that are already quantized")
    boolean allowRequantize;

    @Option(names = "--targets", paramLabel = "REGEX", description = "only quantize modules matching (repeatable; default: all decoder Linears)")
    List<String> targets = new ArrayList<>();

    @Option(names = "--ignore", paramLabel = "REGEX", description = "leave modules matching unquantized (repeatable), e.g. 'layers\\.0\\.'")
    List<String> ignore = new ArrayList<>();

    @Option(names = "--seed", defaultValue = "0", description = "seed for every random choice, recorded in the manifest (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--recipe", paramLabel = "FILE", description = "replay a recipe.json (quantization flags above are then ignored)")
    Path recipe;

    @Option(names = "--threads", description = "compute threads (default: all cores)")
    Integer threads;

    @Option(names = "--force", description = "replace OUT if it exists (only after the new output is complete)")
    boolean force;

    @Option(names = "--json", description = "print the final report as one JSON object")
    boolean json;

    @Option(names = {"-q", "--quiet"}, description = "no per-layer progress lines on stderr")
    boolean quiet;

    @Option(names = "--verbose", description = "show stack traces on errors")
    boolean verbose;

    Recipe recipe() {
        if (recipe != null) return Recipe.read(recipe);
        Recipe.Calibration cal = calib == null ? null
                : new Recipe.Calibration(calib.toString(), calibSamples, calibSeqlen, calibRandom);
        Recipe.Gptq g = "gptq".equals(method) ? new Recipe.Gptq(damp, blockSize, actOrder, staticGroups, true) : null;
        if (!"gptq".equals(method) && (actOrder || staticGroups)) {
            throw new Main.UsageException("--act-order and --static-groups apply to --method gptq only");
        }
        return new Recipe(Recipe.VERSION, method, new Recipe.Scheme(bits, groupSize, sym, mseClip), g,
                targets, ignore, cal, format, seed).validate("command line");
    }

    @Override
    public Integer call() {
        if (threads != null && threads < 1) throw new Main.UsageException("--threads must be at least 1, got " + threads);
        if (calibSamples < 1) throw new Main.UsageException("--calib-samples must be at least 1, got " + calibSamples);
        if (calibSeqlen < 2) throw new Main.UsageException("--calib-seqlen must be at least 2, got " + calibSeqlen);
        if ("gguf".equalsIgnoreCase(format)) return gguf();
        if (type != null || imatrix != null || !tensorTypes.isEmpty() || pure || allowRequantize) {
            throw new Main.UsageException("--type, --imatrix, --tensor-type, --pure and --allow-requantize apply to --format gguf");
        }
        Recipe r = recipe();
        int n = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
        QuantizePipeline.Listener listener = quiet ? QuantizePipeline.Listener.NONE
                : msg -> System.err.println("lowbit: " + msg);
        QuantizeReport report = QuantizePipeline.run(model, output, r, force, n, listener);
        if (json) System.out.println(report.toJson());
        else report.print(System.out);
        return 0;
    }

    /** {@code --format gguf}: llama.cpp mixes through {@link GgufQuantizePipeline}. */
    private int gguf() {
        if (type == null) throw new Main.UsageException("--format gguf needs --type MIX (e.g. Q4_K_M, Q8_0)");
        if (recipe != null || actOrder || staticGroups || !"gptq".equals(method)) {
            throw new Main.UsageException("--format gguf takes --type (a llama.cpp mix), not --method/--recipe/--act-order");
        }
        LlamaFtype ftype;
        try {
            ftype = LlamaFtype.parse(type);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--type: " + e.getMessage());
        }
        GgufQuantizeReport report = GgufQuantizePipeline.run(new GgufQuantizePipeline.Request(model, output, ftype,
                imatrix, calib, calibSamples, calibSeqlen, tensorTypes, pure, allowRequantize, force,
                threads == null ? 2 : threads));
        if (json) System.out.println(report.toJson());
        else report.print(System.out);
        return 0;
    }
}
