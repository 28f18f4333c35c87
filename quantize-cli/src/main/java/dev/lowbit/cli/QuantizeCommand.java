package dev.lowbit.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.pipeline.gguf.GgufQuantizeReport;
import dev.lowbit.pipeline.quantize.QuantizePipeline;
import dev.lowbit.pipeline.quantize.QuantizeReport;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.recipe.SchemeOverride;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.pipeline.steps.StepRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code lowbit quantize}: the flags are sugar for a one-step {@link Recipe}; {@code --recipe FILE} gives the whole
 * recipe instead. A flag that does not apply to the chosen format or method is refused with one line (exit 2), never
 * ignored: which flags were typed comes from picocli's parse result, not from comparing values with defaults.
 */
@Command(name = "quantize", mixinStandardHelpOptions = true, sortOptions = false, parameterListHeading = "%nArguments:%n", optionListHeading = "%nOptions:%n",
        description = {
            "Quantize a checkpoint and write what a runtime loads.",
            "",
            "--format gptq | compressed-tensors: every Linear inside the decoder layers of a Hugging Face "
                    + "checkpoint becomes GPTQ v1 or compressed-tensors pack-quantized (transformers, vLLM); "
                    + "embeddings, norms and lm_head pass through; the run is saved as recipe.json in OUT.",
            "",
            "--format gguf --type MIX: one llama.cpp GGUF file with one of llama-quantize's mixes (Q8_0, Q4_0, "
                    + "Q4_K_M, Q3_K_M, Q2_K, Q6_K, TQ2_0, ...), each tensor's type chosen as llama-quantize does; "
                    + "MODEL may also be a .gguf; k-quants use an importance matrix from --imatrix FILE or computed "
                    + "from --calib text; with --method gptq --calib FILE, GPTQ quantizes every decoder Linear onto "
                    + "its GGUF type's own grid (the type's scale search per block, error feedback across columns).",
            "",
            "A run is a recipe: steps (transforms, then one quantizer), per-module overrides and an output "
                    + "target. These flags describe a one-step recipe; --recipe FILE (JSON or YAML) gives one "
                    + "instead. Steps (--list-steps shows their parameters):",
            "  rtn   round to nearest, data-free, seconds",
            "  gptq  Frantar et al.: calibrated, error-compensating; needs --calib",
            "",
            "A flag that does not apply to the format or method is refused (exit 2), not ignored.",
            "",
            "Examples:",
            "  lowbit quantize ../shared/models/tiny-llama-code -o out/w4 \\",
            "      --method gptq --bits 4 --calib ../shared/data/calib_code.txt",
            "  lowbit quantize MODEL -o out/w4-rtn --method rtn --format compressed-tensors",
            "  lowbit quantize MODEL -o out/again --recipe out/w4/recipe.json",
            "  lowbit quantize MODEL -o q3km.gguf --format gguf --type Q3_K_M --method gptq \\",
            "      --calib ../shared/data/calib_code.txt",
            "  lowbit quantize MODEL -o q4km.gguf --format gguf --type Q4_K_M \\",
            "      --calib ../shared/data/calib_code.txt",
            "  lowbit quantize f32.gguf -o q8.gguf --format gguf --type Q8_0 \\",
            "      --tensor-type 'ffn_down=F16'"
        })
final class QuantizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "Hugging Face model directory (config.json + safetensors); with --format gguf also a GGUF file")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT", description = "output directory, or the .gguf file for --format gguf (must not exist unless --force)")
    Path output;

    @Option(names = "--method", paramLabel = "STEP", description = "the quantizer step: rtn | gptq | awq (= AWQ scales and clipping, then rtn; needs --calib; into --format gguf: scales only, then the mix's types) | smoothquant (= SmoothQuant migration, then rtn; with --scheme w8a8; needs --calib) (default: gptq; rtn with --format gguf)")
    String method;

    @Option(names = "--bits", defaultValue = "4", paramLabel = "N", description = "bits per weight, 2..8 (default: ${DEFAULT-VALUE}; not with --format gguf)")
    int bits;

    @Option(names = "--group-size", defaultValue = "128", paramLabel = "N", description = "input channels per scale; -1 = per output channel (default: ${DEFAULT-VALUE}; not with --format gguf)")
    int groupSize;

    @Option(names = "--sym", description = "symmetric grid (zero point fixed at the middle of the range); default is asymmetric")
    boolean sym;

    @Option(names = "--mse-clip", description = "search a shrunk range per group minimising the error (the reference's mse=True), for rtn and gptq")
    boolean mseClip;

    @Option(names = "--scheme", paramLabel = "NAME", description = "int (default: --bits/--group-size/--sym), w8a8 (int8 symmetric "
            + "per-channel weights and int8 input activations, see --act: compressed-tensors int-quantized) or a float scheme: "
            + "fp8, fp8_e5m2 (per channel), nvfp4, mxfp4 (written as compressed-tensors), mxfp6_e3m2, mxfp6_e2m3, mxfp8_e4m3, mxfp8_e5m2")
    String scheme;

    @Option(names = "--act", paramLabel = "dynamic|static", description = "--scheme w8a8: int8 activations per token, computed at run "
            + "time (dynamic, default: llm-compressor's W8A8) or per tensor with the scale measured on --calib and stored (static)")
    String act;

    @Option(names = "--smooth-alpha", paramLabel = "A", description = "--method smoothquant: migration strength, strictly between 0 and 1, or 'search' (per mapping and layer on 0.05..0.95 by the block-output error with weights and activations quantized as --act says) (default: 0.5)")
    String smoothAlpha;

    @Option(names = "--smooth-down-proj", description = "--method smoothquant: also smooth down_proj's input into up_proj's rows (beyond SmoothQuant's two norms)")
    boolean smoothDownProj;

    @Option(names = "--four-over-six", paramLabel = "off|mse|weighted", description = "--scheme nvfp4: per block, the block maximum on 4 or on 6, whichever reconstructs better (weighted: by diag(H), gptq only)")
    String fourOverSix;

    @Option(names = "--input-activations", paramLabel = "fp8-token", description = "declare run-time activation quantization "
            + "in the written checkpoint (compressed-tensors input_activations, applied by evaluate and by vLLM): fp8-token with "
            + "--scheme fp8 is W8A8-FP8 (llm-compressor's FP8_DYNAMIC)")
    String inputActivations;

    @Option(names = "--mx-exponent", paramLabel = "RULE", description = "--scheme mx*: ocp (= ggml, default) | compressed-tensors | modelopt: how a block's E8M0 exponent follows from its maximum")
    String mxExponent;

    @Option(names = "--act-order", arity = "0..1", fallbackValue = "true", paramLabel = "true|false",
            description = "gptq: quantize columns in order of decreasing Hessian diagonal (desc_act; default: false, true with --format gguf)")
    Boolean actOrder;

    @Option(names = "--loss-clip", description = "gptq per channel: pick each row's range shrink (1, 0.975, …, 0.525) by GPTQ's own "
            + "loss, one sweep per shrink (not with --mse-clip)")
    boolean lossClip;

    @Option(names = "--static-groups", description = "gptq with --act-order: fix group parameters before the sweep, so g_idx stays monotone")
    boolean staticGroups;

    @Option(names = "--damp", defaultValue = "0.01", paramLabel = "F", description = "gptq: dampening, fraction of mean diag(H) (default: ${DEFAULT-VALUE})")
    double damp;

    @Option(names = "--block-size", defaultValue = "128", paramLabel = "N", description = "gptq: lazy-batch block size (default: ${DEFAULT-VALUE})")
    int blockSize;

    @Option(names = "--calib", paramLabel = "FILE", description = "calibration text (.txt, or .jsonl with a 'text' field): gptq's Hessians, or the importance matrix for --format gguf")
    Path calib;

    @Option(names = "--calib-samples", defaultValue = "128", paramLabel = "N", description = "calibration windows (default: ${DEFAULT-VALUE})")
    int calibSamples;

    @Option(names = "--calib-seqlen", defaultValue = "512", paramLabel = "N", description = "tokens per calibration window (default: ${DEFAULT-VALUE})")
    int calibSeqlen;

    @Option(names = "--calib-random", description = "seeded random windows instead of the first N non-overlapping ones (not with --format gguf)")
    boolean calibRandom;

    @Option(names = "--format", defaultValue = "gptq", paramLabel = "FORMAT", description = "gptq | compressed-tensors | awq | gguf | onnx | dequantized (default: ${DEFAULT-VALUE}; compressed-tensors with a float --scheme; onnx for MODEL.onnx; dequantized: the GPTQ values decoded to f32 for lowbit evaluate only, also of a model with online rotations)")
    String format;

    @Option(names = "--type", paramLabel = "MIX", description = "gguf: llama.cpp mix, e.g. Q4_K_M, Q8_0, Q2_K, TQ2_0")
    String type;

    @Option(names = "--imatrix", paramLabel = "FILE", description = "gguf: importance matrix (llama.cpp GGUF or legacy .dat)")
    Path imatrix;

    @Option(names = "--tensor-type", paramLabel = "REGEX=TYPE", description = "gguf: type for tensors whose name matches (repeatable; first match wins)")
    List<String> tensorTypes = new ArrayList<>();

    @Option(names = "--pure", description = "gguf: no mix rules, every quantizable tensor gets the mix's default type")
    boolean pure;

    @Option(names = "--allow-rtn-fallback", description = "gguf + gptq: a Linear whose Hessian is not positive definite after damping is rounded by the importance-weighted search instead of stopping the run")
    boolean allowRtnFallback;

    @Option(names = "--search-importance", arity = "1", defaultValue = "true", paramLabel = "true|false",
            description = "gguf + gptq: each block's scale search weighs its elements by diag(H), as llama.cpp's imatrix (default: ${DEFAULT-VALUE})")
    boolean searchImportance;

    @Option(names = "--allow-requantize", description = "gguf: allow re-quantizing tensors that are already quantized")
    boolean allowRequantize;

    @Option(names = "--targets", paramLabel = "REGEX", description = "only quantize modules matching (repeatable; default: all decoder Linears; not with --format gguf)")
    List<String> targets = new ArrayList<>();

    @Option(names = "--ignore", paramLabel = "REGEX", description = "leave modules matching unquantized (repeatable), e.g. 'layers\\.0\\.' (not with --format gguf)")
    List<String> ignore = new ArrayList<>();

    @Option(names = "--seed", defaultValue = "0", paramLabel = "N", description = "seed for --calib-random and --rotate, recorded in the manifest (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--rotate", description = "rotate the model first (R1 + R2 randomised Hadamard, norms folded; same function, "
            + "outliers spread); seeded by --seed; with --method none the rotated f32 checkpoint is the output")
    boolean rotate;

    @Option(names = "--rotate-online", description = "--rotate: also the online R3 (q, k after RoPE) and R4 (down_proj's "
            + "input) Hadamards for activation quantization; only lowbit's runtime applies them, so only --method none "
            + "writes such a model (recorded in config.json: lowbit_online_rotation)")
    boolean rotateOnline;

    @Option(names = "--rotate-candidates", paramLabel = "N", description = "--rotate: try seeds --seed .. --seed+N-1 and keep "
            + "the one whose RTN image (--bits, --group-size, --sym) loses least on --calib windows, layer by layer")
    Integer rotateCandidates;

    @Option(names = "--calib-inputs", paramLabel = "DIR", description = "ONNX: calibration / comparison inputs: a .npz, a test_data_set_N directory of input_K.pb tensors, or a directory of those (ONNX Runtime's test data layout)")
    Path calibInputs;

    @Option(names = "--calibrator", paramLabel = "NAME", description = "ONNX --scheme qdq-int8: activation ranges by minmax (default) | percentile | entropy, as ONNX Runtime's calibrators")
    String calibrator;

    @Option(names = "--recipe", paramLabel = "FILE", description = "run this recipe (recipe.json of an earlier run, or your own JSON / YAML); the quantization flags above are then refused")
    Path recipe;

    @Option(names = "--list-steps", help = true, description = "list the recipe steps with their parameters and defaults, then exit")
    boolean listSteps;

    @Option(names = "--threads", paramLabel = "N", description = "compute threads (default: all cores; 2 for --format gguf)")
    Integer threads;

    @Option(names = "--force", description = "replace OUT if lowbit wrote it (swapped in atomically once the new output is complete)")
    boolean force;

    @Option(names = "--json", description = "print the final report as one JSON object")
    boolean json;

    @Option(names = "--resume", description = "continue an interrupted run (kill -9, crash) on the same output and recipe from its last finished layer; the result is byte-identical to an uninterrupted run (safetensors formats; not with transform steps)")
    boolean resume;

    @Option(names = {"-q", "--quiet"}, description = "no progress on stderr (a bar per phase on a terminal, else a line per layer)")
    boolean quiet;

    @Option(names = "--verbose", description = "show stack traces on errors")
    boolean verbose;

    /** Flags that describe the quantization itself: all of them are the recipe's business when --recipe is given. */
    private static final List<String> RECIPE_FLAGS = List.of("--method", "--scheme", "--four-over-six", "--mx-exponent", "--bits", "--group-size", "--sym", "--mse-clip",
            "--act-order", "--static-groups", "--loss-clip", "--damp", "--block-size", "--calib", "--calib-samples", "--calib-seqlen",
            "--calib-random", "--format", "--type", "--imatrix", "--tensor-type", "--pure", "--allow-requantize",
            "--allow-rtn-fallback", "--search-importance",
            "--targets", "--ignore", "--seed", "--input-activations", "--act", "--smooth-alpha", "--smooth-down-proj");
    private static final List<String> GRID_FLAGS = List.of("--bits", "--group-size", "--sym", "--mse-clip");
    private static final List<String> GPTQ_FLAGS = List.of("--act-order", "--static-groups", "--damp", "--block-size", "--loss-clip");
    private static final List<String> GGUF_FLAGS = List.of("--type", "--imatrix", "--tensor-type", "--pure", "--allow-requantize");
    private static final List<String> GGUF_GPTQ_FLAGS = List.of("--allow-rtn-fallback", "--search-importance");

    @Override
    public Integer call() {
        if (listSteps) {
            System.out.print(StepRegistry.DEFAULT.listing());
            return 0;
        }
        if (threads != null && threads < 1) throw new Main.UsageException("--threads must be at least 1, got " + threads);
        if (dev.lowbit.pipeline.onnx.OnnxQuantize.isOnnx(model) || "onnx".equals(format)) return OnnxQuantizeFlags.run(this);
        refuse(List.of("--calib-inputs", "--calibrator"), "%s applies to ONNX models (MODEL.onnx) only");
        if (calibSamples < 1) throw new Main.UsageException("--calib-samples must be at least 1, got " + calibSamples);
        if (calibSeqlen < 2) throw new Main.UsageException("--calib-seqlen must be at least 2, got " + calibSeqlen);
        if (rotateOnline && !rotate) throw new Main.UsageException("--rotate-online needs --rotate");
        if (resume && "none".equals(method)) throw new Main.UsageException("--resume applies to quantizing runs (--method rtn|gptq), not --method none");
        if ("none".equals(method)) return rotatedCheckpoint();
        if (rotateOnline) {
            throw new Main.UsageException("--rotate-online: --format " + format + " cannot express online rotations "
                    + "(its runtimes apply none); write the rotated checkpoint with --method none, then quantize it with "
                    + "--format dequantized (lowbit's runtime only)");
        }
        if (rotateCandidates != null) {
            throw new Main.UsageException("--rotate-candidates applies to --method none (it writes the chosen rotated checkpoint; quantize that)");
        }
        Recipe r = recipe();
        int cores = Runtime.getRuntime().availableProcessors();
        if (r.output().isGguf()) {
            if (resume) throw new Main.UsageException("--resume applies to the safetensors formats (gptq, compressed-tensors, awq); the GGUF writer keeps no journal yet");
            GgufQuantizeReport report;
            try (LayerProgress progress = LayerProgress.of("quantize", quiet)) {
                report = QuantizePipeline.runGguf(model, output, r, recipe, force, threads == null ? 2 : threads, progress);
            }
            if (json) System.out.println(report.toJson());
            else report.print(System.out);
            return 0;
        }
        QuantizeReport report;
        try (LayerProgress progress = LayerProgress.of("quantize", quiet)) {
            report = QuantizePipeline.run(model, output, r, recipe, force, threads == null ? cores : threads, progress,
                    dev.lowbit.pipeline.steps.StepRegistry.DEFAULT, resume);
        }
        if (json) System.out.println(report.toJson());
        else report.print(System.out);
        return 0;
    }

    /** {@code --rotate --method none}: the rotated checkpoint, no quantizer; every quantization flag is refused. */
    private Integer rotatedCheckpoint() {
        if (!rotate) throw new Main.UsageException("--method none writes no quantized model: it needs a transform (--rotate)");
        List<String> quantization = new ArrayList<>(RECIPE_FLAGS);
        quantization.removeAll(List.of("--method", "--seed"));
        quantization.add("--recipe");
        // the candidate search scores each rotation by the RTN image on this grid over these calibration windows
        List<String> search = List.of("--bits", "--group-size", "--sym", "--calib", "--calib-samples", "--calib-seqlen");
        if (rotateCandidates != null) {
            if (rotateCandidates < 1) throw new Main.UsageException("--rotate-candidates must be at least 1, got " + rotateCandidates);
            if (calib == null) throw new Main.UsageException("--rotate-candidates needs --calib FILE (the candidates are scored on it)");
            quantization.removeAll(search);
        }
        refuse(quantization, "%s does not apply to --method none: the output is the rotated f32 checkpoint");
        dev.lowbit.pipeline.rotate.RotatedCheckpoint.Search search1 = rotateCandidates == null ? null
                : new dev.lowbit.pipeline.rotate.RotatedCheckpoint.Search(rotateCandidates, calib, calibSamples, calibSeqlen,
                        new dev.lowbit.io.quant.QuantScheme(bits, groupSize, sym), threads == null ? Runtime.getRuntime().availableProcessors() : threads);
        dev.lowbit.pipeline.rotate.RotatedCheckpoint.Report report = dev.lowbit.pipeline.rotate.RotatedCheckpoint.write(
                model, output, seed, rotateOnline, search1, force, quiet ? msg -> {} : msg -> System.err.println("lowbit: " + msg));
        if (json) System.out.println(report.toJson());
        else report.print(System.out);
        return 0;
    }

    /** The recipe: {@code --recipe FILE}, or the one-step recipe the flags describe; flags that do not apply are refused. */
    Recipe recipe() {
        if (recipe != null) {
            refuse(RECIPE_FLAGS, "%s is refused with --recipe: the recipe file fixes the whole run (edit the recipe instead)");
            return Recipe.read(recipe);
        }
        boolean w8a8 = "w8a8".equals(scheme);
        boolean floatScheme = scheme != null && !scheme.equals("int") && !w8a8;
        if ((floatScheme || w8a8) && !typed("--format")) format = Output.COMPRESSED_TENSORS;
        boolean gguf = Output.GGUF.equals(format);
        // --method smoothquant is sugar for the recipe [smooth, rtn] into W8A8
        boolean smoothquant = "smoothquant".equals(method);
        String step = smoothquant ? "rtn" : method != null ? method : gguf ? "rtn" : "gptq";
        StepRegistry.DEFAULT.get("--method", step);
        String activations = null;
        if (w8a8) {
            if (!Output.COMPRESSED_TENSORS.equals(format)) {
                throw new Main.UsageException("--scheme w8a8 is written as compressed-tensors int-quantized, not --format " + format);
            }
            refuse(GRID_FLAGS, "%s does not apply to --scheme w8a8: the scheme fixes the grid (int8 symmetric per channel)");
            refuse(List.of("--input-activations"), "%s does not apply to --scheme w8a8: --act chooses its activations");
            if (act != null && !List.of("dynamic", "static").contains(act)) {
                throw new Main.UsageException("--act must be dynamic or static, got '" + act + "'");
            }
            activations = "static".equals(act) ? "int8-tensor" : "int8-token";
            if ("static".equals(act) && calib == null) {
                throw new Main.UsageException("--scheme w8a8 --act static needs --calib FILE (the activation scales are measured on it)");
            }
            bits = 8;
            groupSize = -1;
            sym = true;
        } else {
            refuse(List.of("--act"), "%s applies to --scheme w8a8 only");
        }
        if (smoothquant) {
            if (!w8a8) {
                throw new Main.UsageException("--method smoothquant writes --scheme w8a8 (int8 weights and activations); "
                        + (scheme == null ? "give --scheme w8a8" : "--scheme " + scheme + " is not a scheme it can store"));
            }
            if (calib == null) throw new Main.UsageException("--method smoothquant needs --calib FILE (the migration scales read activation ranges)");
        } else {
            refuse(List.of("--smooth-alpha", "--smooth-down-proj"), "%s applies to --method smoothquant only");
        }
        if (Output.TRIT_PLANES.equals(format) || List.of("ptqtp", "ternary-rtn").contains(step)) {
            throw new Main.UsageException("--method " + step + " / --format " + format + ": ternary trit-planes are written from a recipe (--recipe FILE, "
                    + "output format trit-planes; see README)");
        }
        // --method awq is sugar for the recipe [awq, rtn]: AutoAWQ's output (scales and clipping, then round to nearest)
        boolean awq = "awq".equals(step);
        if (awq) {
            if (calib == null) throw new Main.UsageException("--method awq needs --calib FILE (its scale and clip searches read activations)");
            step = "rtn";
        } else if (StepRegistry.DEFAULT.get("--method", step).role() != dev.lowbit.pipeline.steps.StepType.Role.QUANTIZER) {
            throw new Main.UsageException("--method " + step + " is a transform; give a recipe with steps [" + step + ", rtn|gptq]");
        }
        boolean calibrated = "gptq".equals(step);
        boolean usesCalib = calibrated || smoothquant || "int8-tensor".equals(activations);
        if (rotate && gguf) {
            throw new Main.UsageException("--rotate does not apply to --format gguf yet: write the rotated checkpoint with "
                    + "--rotate --method none, then quantize it to GGUF");
        }
        if (gguf) {
            refuse(GRID_FLAGS, "%s does not apply to --format gguf: the GGUF --type fixes the grid");
            refuse(List.of("--targets", "--ignore"), "%s does not apply to --format gguf: choose tensor types with --tensor-type REGEX=TYPE");
            refuse(List.of("--calib-random", "--seed"), "%s does not apply to --format gguf: the importance matrix uses the first --calib-samples windows");
            if (type == null) throw new Main.UsageException("--format gguf needs --type MIX (e.g. Q4_K_M, Q8_0)");
        } else {
            refuse(GGUF_FLAGS, "%s applies to --format gguf only");
            if (!usesCalib && !awq) refuse(List.of("--calib"), "%s does not apply to --method " + step + ": it is data-free");
            if (!typed("--calib-random") && !rotate) refuse(List.of("--seed"), "%s does not apply: nothing in this run is random (it seeds --calib-random and --rotate)");
        }
        if (!calibrated) refuse(GPTQ_FLAGS, "%s applies to --method gptq only");
        if (calib == null) refuse(List.of("--calib-samples", "--calib-seqlen", "--calib-random"), "%s needs --calib FILE");
        if (awq) refuse(GPTQ_FLAGS, "%s applies to --method gptq only");

        ObjectNode p = JsonNodeFactory.instance.objectNode();
        if (gguf) refuse(List.of("--scheme", "--four-over-six", "--mx-exponent"), "%s does not apply to --format gguf: the GGUF --type fixes the grid");
        if (floatScheme) {
            refuse(GRID_FLAGS, "%s does not apply to --scheme " + scheme + ": the scheme fixes the grid");
            p.put("scheme", scheme);
            if (fourOverSix != null) p.put("four_over_six", fourOverSix);
            if (mxExponent != null) p.put("mx_exponent", mxExponent);
        } else if (!gguf) {
            refuse(List.of("--four-over-six", "--mx-exponent"), "%s applies to a float --scheme only");
            if (scheme != null && !w8a8) p.put("scheme", scheme);
            p.put("bits", bits);
            p.put("group_size", groupSize);
            p.put("symmetric", sym);
            p.put("mse_clip", mseClip);
        }
        if (!gguf || !calibrated) refuse(GGUF_GPTQ_FLAGS, "%s applies to --format gguf with --method gptq only");
        if (gguf && calibrated) {
            p.put("search_importance", searchImportance);
            p.put("allow_rtn_fallback", allowRtnFallback);
        }
        if (calibrated) {
            p.put("damp_percent", damp);
            p.put("block_size", blockSize);
            if (actOrder != null || !gguf) p.put("desc_act", actOrder != null && actOrder);
            p.put("static_groups", staticGroups);
            p.put("true_sequential", true);
            if (lossClip) p.put("loss_clip", true);
        }
        Recipe.Calibration cal = calib == null ? null
                : new Recipe.Calibration(calib.toString(), calibSamples, calibSeqlen, calibRandom);
        List<SchemeOverride> overrides = new ArrayList<>();
        for (String s : tensorTypes) {
            int eq = s.lastIndexOf('=');
            if (eq <= 0 || eq == s.length() - 1) throw new Main.UsageException("--tensor-type expects REGEX=TYPE, got '" + s + "'");
            overrides.add(SchemeOverride.ofType(s.substring(0, eq), s.substring(eq + 1).strip()));
        }
        if (gguf) refuse(List.of("--input-activations"), "%s does not apply to --format gguf: llama.cpp quantizes activations by the weight type");
        Output out = gguf ? new Output(Output.GGUF, type, pure, imatrix == null ? null : imatrix.toString(), allowRequantize)
                : Output.of(format).withInputActivations(w8a8 ? activations : inputActivations);
        List<Step> steps = new ArrayList<>();
        if (rotate) steps.add(new Step("rotate", List.of(), List.of(), JsonNodeFactory.instance.objectNode().put("seed", seed)));
        if (awq) {
            // the clip search rounds onto the quantizer's grid; a GGUF mix's k-quant grids are not integer groups, so
            // into GGUF the scales alone (each scored with the mix's own ggml types)
            steps.add(new Step("awq", List.of(), List.of(), gguf ? JsonNodeFactory.instance.objectNode().put("clip", false)
                    : JsonNodeFactory.instance.objectNode().put("clip_bits", bits).put("clip_group_size", groupSize).put("clip_symmetric", sym)));
        }
        if (smoothquant) {
            ObjectNode sp = JsonNodeFactory.instance.objectNode();
            if (smoothAlpha == null) sp.put("alpha", 0.5);
            else if ("search".equals(smoothAlpha)) sp.put("alpha", "search");
            else {
                try {
                    sp.put("alpha", Double.parseDouble(smoothAlpha));
                } catch (NumberFormatException e) {
                    throw new Main.UsageException("--smooth-alpha must be a number in (0, 1) or 'search', got '" + smoothAlpha + "'");
                }
            }
            if (smoothDownProj) sp.put("down_proj", true);
            steps.add(new Step("smooth", List.of(), List.of(), sp));
        }
        steps.add(new Step(step, targets, ignore, p));
        return new Recipe(steps, overrides, cal, out, seed).validate("command line");
    }

    boolean typed(String option) {
        ParseResult pr = spec.commandLine().getParseResult();
        return pr.hasMatchedOption(option);
    }

    /** Refuses the first of {@code options} the user typed, with {@code reason} ({@code %s} = the option). */
    void refuse(List<String> options, String reason) {
        for (String o : options) {
            if (typed(o)) throw new Main.UsageException(reason.formatted(o));
        }
    }
}
