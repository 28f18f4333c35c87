package dev.lowbit.calib.eval;

import java.nio.file.Path;

/**
 * What to evaluate.
 *
 * @param maxWindows at most this many windows (≤ 0: all)
 * @param baseline   a second model to compare against (KL, top-1 agreement, max |Δlogit|), or null
 * @param threads    PyTorch intra-op threads (≤ 0: all processors)
 * @param batch      windows per forward pass
 * @param activations activation quantization applied to the model (not the baseline), or null
 */
public record EvalRequest(Path model, Path data, int ctx, int maxWindows, Protocol protocol, Path baseline,
                          int threads, int batch, ActivationRequest activations) {
    public EvalRequest {
        if (ctx < 2) throw new IllegalArgumentException("ctx must be at least 2");
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1");
    }

    public EvalRequest(Path model, Path data, int ctx, int maxWindows, Protocol protocol, Path baseline, int threads, int batch) {
        this(model, data, ctx, maxWindows, protocol, baseline, threads, batch, null);
    }
}
