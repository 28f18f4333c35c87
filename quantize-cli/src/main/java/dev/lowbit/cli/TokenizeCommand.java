package dev.lowbit.cli;

import dev.lowbit.calib.data.TextDataset;
import dev.lowbit.calib.tokenize.ModelTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
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

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "write the ids here (int32 LE); refuses to overwrite without --force")
    Path output;

    @Option(names = "--force", description = "overwrite the output file")
    boolean force;

    @Option(names = "--json", description = "print one JSON object")
    boolean json;

    @Override
    public Integer call() {
        int[] ids;
        try (ModelTokenizer tok = ModelTokenizer.open(model)) {
            ids = tok.encode(TextDataset.read(data));
        }
        if (output != null) {
            if (Files.exists(output) && !force) throw new dev.lowbit.io.BadInputException(output, "already exists (pass --force to overwrite)");
            ByteBuffer buf = ByteBuffer.allocate(ids.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int id : ids) buf.putInt(id);
            try {
                Path tmp = Files.createTempFile(output.toAbsolutePath().getParent(), ".lowbit-", ".tmp");
                Files.write(tmp, buf.array());
                Files.move(tmp, output, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        if (json) System.out.println("{\"tokens\":" + ids.length + ",\"data\":\"" + data.toString().replace("\\", "\\\\").replace("\"", "\\\"") + "\"}");
        else System.out.println(ids.length + " tokens");
        return 0;
    }
}
