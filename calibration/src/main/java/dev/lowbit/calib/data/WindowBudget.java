package dev.lowbit.calib.data;

import dev.lowbit.calib.model.LlamaConfig;
import dev.lowbit.io.BadInputException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Bounds window sizes before anything is allocated: a window longer than the model's {@code max_position_embeddings}
 * is refused, and so is a run whose arrays would not fit in this machine's memory. Estimate, in f32 bytes, with
 * B windows per forward pass of T tokens, D hidden, H heads, V vocabulary, N windows held between layers:
 * <pre>
 *   held hidden states   N·T·D·4      (calibration keeps every window's layer input; evaluation one batch: N = B)
 *   attention            3·B·H·T²·4   (scores, softmax, mask broadcast)
 *   logits               3·B·T·V·4    (logits, log-softmax, a copy)
 * </pre>
 * It is a lower bound on the real peak; its job is to turn "asks for 320 GB" into one line before the first array.
 */
public final class WindowBudget {
    private WindowBudget() {}

    /**
     * @param flag the option that sets the window length, named in the message ({@code --ctx}, {@code --calib-seqlen})
     */
    public static void require(Path model, int tokens, int windowsHeld, int batch, String flag) {
        require(LlamaConfig.fromJson(model), model.toString(), tokens, windowsHeld, batch, flag);
    }

    /** The same check for a config already read; {@code model} names the model in the message. */
    public static void require(LlamaConfig c, String model, int tokens, int windowsHeld, int batch, String flag) {
        if (tokens > c.maxPositionEmbeddings()) {
            throw new BadInputException(flag, tokens + " tokens per window exceeds the model's max_position_embeddings "
                    + c.maxPositionEmbeddings() + " (" + model + ")");
        }
        double t = tokens;
        double bytes = 4.0 * ((double) windowsHeld * t * c.hiddenSize()
                + 3.0 * batch * c.numHeads() * t * t
                + 3.0 * batch * t * c.vocabSize());
        long available = physicalMemory();
        if (available > 0 && bytes > available) {
            throw new BadInputException(flag, String.format(Locale.ROOT,
                    "%d tokens per window needs about %.1f GiB for activations, more than this machine's %.1f GiB; lower %s%s",
                    tokens, bytes / (1L << 30), available / (double) (1L << 30), flag,
                    flag.equals("--ctx") ? " or --batch" : " or --calib-samples"));
        }
    }

    private static long physicalMemory() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return -1;
    }
}
