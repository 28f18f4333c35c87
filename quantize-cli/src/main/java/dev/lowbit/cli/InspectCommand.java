package dev.lowbit.cli;

import dev.lowbit.pipeline.inspect.InspectRenderer;
import dev.lowbit.pipeline.inspect.InspectReport;
import dev.lowbit.pipeline.inspect.ModelInspector;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "inspect", mixinStandardHelpOptions = true, parameterListHeading = "%nArguments:%n", optionListHeading = "%nOptions:%n",
        description = {
            "Describe a checkpoint without loading its weights: architecture and hyperparameters, a tensor table "
                    + "(name, type, shape, bytes, bits per weight), totals, and the file metadata (exactly the "
                    + "file's keys; GGUF version, alignment and data offset are reported apart, under 'gguf' in JSON).",
            "",
            "PATH is a Hugging Face model directory (config.json + safetensors, sharded or not), a .safetensors "
                    + "file or a .gguf file.",
            "",
            "Examples:",
            "  lowbit inspect ../shared/models/tiny-llama-code",
            "  lowbit inspect model.gguf --json | jq .parameter_count"
        })
final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "PATH", description = "model directory, .safetensors or .gguf")
    Path path;

    @Option(names = "--json", description = "print one JSON object (tensor_count, parameter_count, total_bytes, metadata, tensors...)")
    boolean json;

    @Option(names = "--no-tensors", description = "omit the per-tensor table in text output")
    boolean noTensors;

    @Option(names = "--verbose", description = "show stack traces on errors")
    boolean verbose;

    @Override
    public Integer call() {
        InspectReport report = ModelInspector.inspect(path);
        if (json) System.out.println(InspectRenderer.json(report));
        else InspectRenderer.text(report, System.out, !noTensors);
        return 0;
    }
}
