package dev.lowbit.cli;

import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.pipeline.gguf.GgufQuantizePipeline;
import dev.lowbit.pipeline.gguf.GgufQuantizeReport;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Temporary home of {@code lowbit quantize --format gguf} until it is folded into {@code quantize}. */
@Command(name = "quantize-gguf", mixinStandardHelpOptions = true,
        description = {
            "Quantize a Hugging Face Llama-family model directory or a GGUF file to a llama.cpp GGUF with one of",
            "llama-quantize's mixes (Q8_0, Q4_0, Q4_K_M, Q3_K_M, Q2_K, Q6_K, TQ2_0, ...), choosing every tensor's",
            "type exactly as llama-quantize does. The k-quants use an importance matrix when given one.",
            "",
            "Examples:",
            "  lowbit quantize-gguf ../shared/models/tiny-llama-code -o tiny-q4km.gguf --format gguf --type Q4_K_M",
            "  lowbit quantize-gguf model-f32.gguf -o q4km.gguf --type Q4_K_M --imatrix imatrix.gguf",
            "  lowbit quantize-gguf stories-f32.gguf -o q8.gguf --type Q8_0 --tensor-type ffn_down=F16"
        })
final class GgufQuantizeCommand implements Callable<Integer> {
    /** Encoding threads; the output is the same for any count. */
    static final int THREADS = 2;

    @Parameters(index = "0", paramLabel = "MODEL", description = "Hugging Face model directory or .gguf file")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "the .gguf file to write")
    Path output;

    @Option(names = "--format", defaultValue = "gguf", paramLabel = "FORMAT", description = "output format: gguf")
    String format;

    @Option(names = "--type", required = true, paramLabel = "MIX", description = "llama.cpp mix, e.g. Q4_K_M, Q8_0, Q2_K")
    String type;

    @Option(names = "--imatrix", paramLabel = "FILE", description = "importance matrix (llama.cpp GGUF or legacy .dat)")
    Path imatrix;

    @Option(names = "--calib", paramLabel = "FILE", description = "calibration text to compute the importance matrix from")
    Path calib;

    @Option(names = "--calib-samples", defaultValue = "128", paramLabel = "N", description = "calibration windows (default: ${DEFAULT-VALUE})")
    int calibSamples;

    @Option(names = "--calib-seqlen", defaultValue = "512", paramLabel = "L", description = "tokens per window (default: ${DEFAULT-VALUE})")
    int calibSeqlen;

    @Option(names = "--tensor-type", paramLabel = "REGEX=TYPE", description = "type for tensors whose name matches REGEX (repeatable; first match wins)")
    List<String> tensorTypes = new ArrayList<>();

    @Option(names = "--pure", description = "no mix rules: every quantizable tensor gets the mix's default type")
    boolean pure;

    @Option(names = "--allow-requantize", description = "allow re-quantizing tensors that are already quantized")
    boolean allowRequantize;

    @Option(names = "--force", description = "replace an existing output file")
    boolean force;

    @Option(names = "--json", description = "print the report as one JSON object")
    boolean json;

    @Option(names = "--verbose", description = "show stack traces on errors")
    boolean verbose;

    @Override
    public Integer call() {
        if (!format.equalsIgnoreCase("gguf")) throw new Main.UsageException("--format " + format + ": quantize-gguf writes gguf only");
        LlamaFtype ftype;
        try {
            ftype = LlamaFtype.parse(type);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--type: " + e.getMessage());
        }
        GgufQuantizeReport report = GgufQuantizePipeline.run(new GgufQuantizePipeline.Request(model, output, ftype,
                imatrix, calib, calibSamples, calibSeqlen, tensorTypes, pure, allowRequantize, force, THREADS));
        if (json) System.out.println(report.toJson());
        else report.print(System.out);
        return 0;
    }
}
