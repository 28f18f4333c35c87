package dev.lowbit.cli;

import dev.lowbit.pipeline.formats.FormatStudy;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "formats", mixinStandardHelpOptions = true, parameterListHeading = "%nArguments:%n", optionListHeading = "%nOptions:%n",
        description = {
            "INT vs FP per Linear: round every decoder Linear to INT4 (g128, g32), MXFP4 and NVFP4 (plain and Four Over "
                    + "Six), measure the output error each leaves under the Linear's calibration Hessian, and report "
                    + "which format a bits-per-weight budget picks for each. Writes nothing.",
            "",
            "Example:",
            "  lowbit formats ../shared/models/tiny-llama-code --calib ../shared/data/calib_code.txt"
        })
final class FormatsCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "Hugging Face model directory")
    Path model;

    @Option(names = "--calib", required = true, paramLabel = "FILE", description = "calibration text (.txt, or .jsonl with a 'text' field)")
    Path calib;

    @Option(names = "--calib-samples", defaultValue = "128", paramLabel = "N", description = "calibration windows (default: ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--calib-seqlen", defaultValue = "512", paramLabel = "N", description = "tokens per window (default: ${DEFAULT-VALUE})")
    int seqlen;

    @Option(names = "--budget", defaultValue = "4.5", paramLabel = "BITS", description = "bits per weight a Linear may take (default: ${DEFAULT-VALUE}: NVFP4 and INT4 g32 sym qualify)")
    double budget;

    @Option(names = "--threads", paramLabel = "N", description = "compute threads (default: all cores)")
    Integer threads;

    @Option(names = "--json", description = "print one JSON object")
    boolean json;

    @Option(names = {"-q", "--quiet"}, description = "no per-layer progress lines on stderr")
    boolean quiet;

    @Override
    public Integer call() {
        if (samples < 1) throw new Main.UsageException("--calib-samples must be at least 1, got " + samples);
        if (seqlen < 2) throw new Main.UsageException("--calib-seqlen must be at least 2, got " + seqlen);
        if (threads != null && threads < 1) throw new Main.UsageException("--threads must be at least 1, got " + threads);
        FormatStudy.Report r = FormatStudy.run(model, calib, samples, seqlen, budget,
                threads == null ? Runtime.getRuntime().availableProcessors() : threads,
                quiet ? m -> {} : m -> System.err.println("lowbit: " + m));
        if (json) System.out.println(r.toJson());
        else r.print(System.out);
        return 0;
    }
}
