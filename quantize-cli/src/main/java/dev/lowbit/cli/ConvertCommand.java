package dev.lowbit.cli;

import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.pipeline.quantize.QuantizePipeline;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.recipe.Step;
import java.util.List;
import dev.lowbit.pipeline.gguf.GgufQuantizeReport;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "convert", mixinStandardHelpOptions = true, parameterListHeading = "%nArguments:%n", optionListHeading = "%nOptions:%n",
        description = {
            "Convert a Hugging Face Llama-family model directory (or a GGUF file) to a GGUF file for llama.cpp, "
                    + "without calibration: f32, f16 and bf16 keep every weight (bf16 → f32 is exact), q8_0 rounds to "
                    + "8 bits. Tensors are streamed one at a time; the output appears only when complete.",
            "",
            "Examples:",
            "  lowbit convert ../shared/models/tiny-llama-code -o tiny-f32.gguf --type f32",
            "  lowbit convert ../shared/models/tiny-llama-code -o tiny-q8_0.gguf \\",
            "      --type q8_0 --json"
        })
final class ConvertCommand implements Callable<Integer> {
    enum OutType { f32, f16, bf16, q8_0 }

    @Parameters(index = "0", paramLabel = "MODEL", description = "Hugging Face model directory or .gguf file")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "the .gguf file to write")
    Path output;

    @Option(names = "--type", defaultValue = "f16", paramLabel = "TYPE",
            description = "tensor type: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    OutType type;

    @Option(names = "--format", defaultValue = "gguf", paramLabel = "gguf|onnx",
            description = "gguf (default): one .gguf file of --type; onnx: a directory with model.onnx (+ external data, tokenizer, config) "
                    + "that ONNX Runtime runs: f32 MatMuls, or MatMulNBits carrying the codes of a GPTQ / AWQ / compressed-tensors checkpoint")
    String format;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--force", description = "replace the output file if lowbit wrote it (swapped in atomically when complete)")
    boolean force;

    @Option(names = "--json", description = "print the report as one JSON object")
    boolean json;

    @Option(names = "--verbose", description = "show stack traces on errors")
    boolean verbose;

    @Option(names = {"-q", "--quiet"}, description = "no progress on stderr (a bar on a terminal, else a line per layer)")
    boolean quiet;

    @Override
    public Integer call() {
        if ("onnx".equals(format)) {
            if (spec.commandLine().getParseResult().hasMatchedOption("--type")) {
                throw new Main.UsageException("--type does not apply to --format onnx: f32 weights, or the checkpoint's own codes as MatMulNBits");
            }
            dev.lowbit.pipeline.onnx.LlamaOnnxExport.Report r = dev.lowbit.pipeline.onnx.LlamaOnnxExport.export(model, output, force, m -> { });
            if (json) System.out.println(r.toJson());
            else r.print(System.out);
            return 0;
        }
        if (!"gguf".equals(format)) throw new Main.UsageException("--format must be gguf or onnx, got '" + format + "'");
        LlamaFtype ftype = switch (type) {
            case f32 -> LlamaFtype.ALL_F32;
            case f16 -> LlamaFtype.F16;
            case bf16 -> LlamaFtype.BF16;
            case q8_0 -> LlamaFtype.Q8_0;
        };
        // a conversion is the one pipeline with the type's own rounding into a GGUF of one type (no imatrix, no overrides)
        Recipe recipe = new Recipe(List.of(new Step("rtn", List.of(), List.of(), null)), List.of(), null,
                new Output(Output.GGUF, ftype.name(), false, null, false), 0).validate("command line");
        GgufQuantizeReport report;
        try (LayerProgress progress = LayerProgress.of("convert", quiet)) {
            report = QuantizePipeline.runGguf(model, output, recipe, null, force, 2, progress);
        }
        if (json) System.out.println(report.toJson());
        else report.print(System.out);
        return 0;
    }
}
