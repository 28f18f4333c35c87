package dev.lowbit.calib.data;

import dev.lowbit.io.model.ModelSource;
import dev.lowbit.calib.tokenize.ModelTokenizer;
import java.nio.file.Path;

/**
 * Calibration windows from a text or JSONL file, tokenized with the model's tokenizer (no special tokens).
 * Default sampling is the protocol's: the first {@code count} non-overlapping windows of {@code length} tokens
 * from token 0 (a text too short for {@code count} of them is refused); with a seed, {@code count} windows at seeded
 * random offsets instead.
 */
public final class CalibrationSet {
    private CalibrationSet() {}

    /** The first {@code count} non-overlapping windows (e.g. 128 × 512 of calib_code.txt); fewer in the text: refused. */
    public static int[][] first(Path modelDir, Path data, int length, int count) {
        WindowBudget.require(modelDir, length, count, 8, "--calib-seqlen");
        return TokenWindows.exactly(tokens(modelDir, data), length, count, data.toString());
    }

    /** The first {@code count} windows of {@code data}, tokenized with {@code model}'s tokenizer. */
    public static int[][] first(ModelSource model, Path data, int length, int count) {
        WindowBudget.require(dev.lowbit.calib.model.LlamaConfig.of(model), model.path().toString(), length, count, 8, "--calib-seqlen");
        try (ModelTokenizer tok = ModelTokenizer.open(model)) {
            return TokenWindows.exactly(tok.encode(TextDataset.read(data)), length, count, data.toString());
        }
    }

    /** {@code count} windows at random offsets drawn from {@code seed} (record the seed in the artifact). */
    public static int[][] random(Path modelDir, Path data, int length, int count, long seed) {
        WindowBudget.require(modelDir, length, count, 8, "--calib-seqlen");
        return TokenWindows.random(tokens(modelDir, data), length, count, seed, data.toString());
    }

    private static int[] tokens(Path modelDir, Path data) {
        try (ModelTokenizer tok = ModelTokenizer.open(modelDir)) {
            return tok.encode(TextDataset.read(data));
        }
    }
}
