package dev.lowbit.pipeline.rotate;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearHook;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.ptq.rotate.RotatedModelSource;
import dev.lowbit.ptq.rtn.Rtn;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The cheap SpinQuant-like remedy: instead of learning R1/R2, draw several seeded randomised Hadamards and keep the
 * one whose rotated model loses least to quantization on calibration data.
 *
 * <p>Loss of one candidate, layer by layer (AWQ's convention: every layer sees the full-precision outputs of the one
 * before): L = Σ_layers mean((block_Q(x) − block(x))²), where block_Q runs the layer with every Linear replaced by its
 * RTN image on {@code scheme} (the proxy for the quantizer that follows; GPTQ per candidate would cost a full run).
 * Rotations keep the residual stream's norm, so losses of different candidates (and of the unrotated model, seed
 * {@link #UNROTATED}) are on one scale.
 */
public final class RotationSearch {
    /** Marks the unrotated model among the candidates. */
    public static final long UNROTATED = Long.MIN_VALUE;

    private RotationSearch() {}

    public record Candidate(long seed, double loss) {
        public boolean rotated() {
            return seed != UNROTATED;
        }
    }

    /** Every candidate's loss, and the best rotated seed. */
    public record Result(long best, List<Candidate> candidates) {}

    /**
     * Scores {@code seeds} (and, with {@code withUnrotated}, the model as it is) on {@code windows} of calibration
     * tokens; returns the rotated seed with the lowest loss.
     */
    public static Result search(ModelSource source, List<Long> seeds, boolean withUnrotated, int[][] windows,
                                QuantScheme scheme, int threads, Consumer<String> progress) {
        List<Candidate> out = new ArrayList<>();
        List<Long> all = new ArrayList<>(seeds);
        if (withUnrotated) all.addFirst(UNROTATED);
        long best = seeds.getFirst();
        double bestLoss = Double.POSITIVE_INFINITY;
        for (long seed : all) {
            double loss;
            if (seed == UNROTATED) {
                loss = loss(source, windows, scheme, threads);
            } else {
                try (RotatedModelSource view = RotatedModelSource.of(source, seed)) {
                    loss = loss(view, windows, scheme, threads);
                }
                if (loss < bestLoss) {
                    bestLoss = loss;
                    best = seed;
                }
            }
            out.add(new Candidate(seed, loss));
            progress.accept("rotation candidate " + (seed == UNROTATED ? "unrotated" : "seed " + seed)
                    + ": block loss " + String.format("%.6g", loss));
        }
        return new Result(best, out);
    }

    /** Σ over layers of the mean squared difference between the layer's RTN-quantized and full-precision outputs. */
    static double loss(ModelSource model, int[][] windows, QuantScheme scheme, int threads) {
        try (LlamaRunner runner = LlamaRunner.open(model, threads)) {
            NDArray h = runner.embed(windows);
            double total = 0;
            for (int layer = 0; layer < runner.config().numLayers(); layer++) {
                NDArray fp = runner.runLayer(layer, h, LinearHook.NONE);
                for (Linear l : Linear.values()) {
                    long[] shape = runner.linearShape(l);
                    int rows = Math.toIntExact(shape[0]), cols = Math.toIntExact(shape[1]);
                    float[] w = runner.linearWeight(layer, l);
                    runner.setLinearWeight(layer, l, Rtn.rtn(l.name(), w, rows, cols, scheme).dequantize());
                }
                NDArray q = runner.runLayer(layer, h, LinearHook.NONE);
                NDArray d = q.sub(fp);
                total += d.square().mean().getFloat();
                d.close();
                q.close();
                runner.releaseLayer(layer);
                h.close();
                h = fp;
            }
            h.close();
            return total;
        }
    }
}
