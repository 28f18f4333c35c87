package dev.lowbit.cli;

import dev.lowbit.calib.data.TextDataset;
import dev.lowbit.calib.tokenize.ModelTokenizer;
import dev.lowbit.pipeline.tokenize.TokenIds;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "tokenize", mixinStandardHelpOptions = true, parameterListHeading = "%nArguments:%n", optionListHeading = "%nOptions:%n",
        description = {
            "Tokenize a text or JSONL file with a model's tokenizer.json, as evaluate and calibration do (no special "
                    + "tokens added), and print the token count; with -o, write the ids as little-endian int32.",
            "",
            "Example:",
            "  lowbit tokenize ../shared/models/tiny-llama-code --data eval.txt -o eval.i32"
        })
final class TokenizeCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "model directory holding tokenizer.json")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "UTF-8 text, or .jsonl with a 'text' field")
    Path data;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "write the ids here (int32 LE) with a sidecar FILE.lowbit-manifest.json")
    Path output;

    @Option(names = "--force", description = "replace the output file if lowbit wrote it")
    boolean force;

    @Option(names = "--json", description = "print one JSON object")
    boolean json;

    @Override
    public Integer call() {
        int[] ids;
        try (ModelTokenizer tok = ModelTokenizer.open(model)) {
            ids = tok.encode(TextDataset.read(data));
        }
        if (output != null) TokenIds.write(ids, output, force, model, data);
        if (json) System.out.println("{\"tokens\":" + ids.length + ",\"data\":\"" + data.toString().replace("\\", "\\\\").replace("\"", "\\\"") + "\"}");
        else System.out.println(ids.length + " tokens");
        return 0;
    }
}
