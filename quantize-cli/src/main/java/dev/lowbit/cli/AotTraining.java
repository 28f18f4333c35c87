package dev.lowbit.cli;

import dev.lowbit.pipeline.synth.SyntheticCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The training run from which the launcher builds the JDK's ahead-of-time cache ({@code -XX:AOTCacheOutput}, JEP 483 /
 * 514 / 515): the classes a command loads and links, and the method profiles of its hot loops, are recorded once per
 * build, so later runs start with them instead of loading, linking and profiling from scratch — what dominates a small
 * model's GGUF conversion (a 27M-parameter model quantizes in about a second once the JIT has warmed up).
 *
 * <p>The workload is the CLI itself on a small seeded random checkpoint: {@code inspect}, {@code convert} to GGUF,
 * {@code quantize --format gguf} to the common types, and RTN to the GPTQ format. It needs only a tokenizer directory
 * (tiny-llama-code's, as the synthetic checkpoint does); the launcher skips the cache when this exits non-zero.
 *
 * <p>{@code AotTraining WORK_DIR [TOKENIZER_DIR]}: WORK_DIR must not exist or be empty; the launcher removes it after.
 */
public final class AotTraining {
    private AotTraining() {}

    /** Small, but every GGUF type's block size divides it (256) and RoPE / GQA paths are exercised. */
    static final SyntheticCheckpoint.Spec SPEC = new SyntheticCheckpoint.Spec(512, 2, 8, 4, 1536, 8192, 512, 0);

    static final String[] GGUF_TYPES = {"Q8_0", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K", "Q3_K_M", "Q2_K"};

    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            System.err.println("AotTraining WORK_DIR [TOKENIZER_DIR]");
            System.exit(2);
        }
        Path work = Path.of(args[0]);
        Path tokenizer = args.length > 1 ? Path.of(args[1]) : dev.lowbit.io.SharedData.tinyLlama();
        if (!Files.isRegularFile(tokenizer.resolve("tokenizer.json"))) {
            System.err.println("aot training: no tokenizer.json under " + tokenizer);
            System.exit(3);
        }
        Path model = work.resolve("model");
        SyntheticCheckpoint.write(SPEC, model, tokenizer, 5_000_000_000L);
        String f16 = work.resolve("model-f16.gguf").toString();
        run("inspect", model.toString());
        run("convert", model.toString(), "-o", f16, "--type", "f16", "-q");
        run("inspect", f16);
        for (String type : GGUF_TYPES) {
            run("quantize", f16, "--format", "gguf", "--type", type, "-o", work.resolve(type + ".gguf").toString(), "-q");
        }
        run("quantize", model.toString(), "--method", "rtn", "--bits", "4", "--group-size", "128", "-o",
                work.resolve("rtn-w4").toString(), "-q");
        System.exit(0);
    }

    private static void run(String... args) {
        int rc = Main.execute(args);
        if (rc != 0) {
            System.err.println("aot training: 'lowbit " + String.join(" ", args) + "' exited " + rc);
            System.exit(rc);
        }
    }
}
