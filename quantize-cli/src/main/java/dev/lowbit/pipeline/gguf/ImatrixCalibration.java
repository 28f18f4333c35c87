package dev.lowbit.pipeline.gguf;

import dev.lowbit.calib.capture.LayerwiseCapture;
import dev.lowbit.calib.data.CalibrationSet;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ModuleObservers;
import dev.lowbit.calib.observe.ObservingHook;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.ModelHyperparameters;
import dev.lowbit.io.export.TensorNames;
import dev.lowbit.io.imatrix.Imatrix;
import dev.lowbit.io.model.GgufModelSource;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.ptq.observe.MeanSquareObserver;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Computes an importance matrix the way {@code llama-imatrix} does, on lowbit's own runner: run the unquantized model
 * over the calibration windows and accumulate, per Linear, Σx² of each input channel and the token count. Linears
 * that read the same tensor share statistics (q/k/v the attention-norm output, gate/up the ffn-norm output); o and
 * down have their own. Entries are keyed by GGUF tensor name ({@code blk.N.attn_q.weight}); {@code output.weight} is
 * left out, as llama-imatrix leaves it out by default.
 */
public final class ImatrixCalibration {
    /** Windows per forward pass. */
    private static final int BATCH = 4;

    private ImatrixCalibration() {}

    /** {@link #compute(ModelSource, Path, int, int, int)} of the model at {@code model} (a directory or a {@code .gguf}). */
    public static Imatrix compute(Path model, Path text, int seqlen, int samples, int threads) {
        try (ModelSource m = ModelSource.open(model)) {
            return compute(m, text, seqlen, samples, threads);
        }
    }

    /**
     * @param model    the model to run: a Hugging Face directory or a GGUF file (read in place)
     * @param text     calibration text (UTF-8 or JSONL)
     * @param seqlen   tokens per window
     * @param samples  windows: the first {@code samples} non-overlapping ones
     */
    public static Imatrix compute(ModelSource model, Path text, int seqlen, int samples, int threads) {
        if (seqlen < 2 || samples < 1) throw new BadInputException("--calib", "needs --calib-seqlen ≥ 2 and --calib-samples ≥ 1");
        String ggufArch = model instanceof GgufModelSource g ? g.file().get("general.architecture").asString()
                : ModelHyperparameters.fromHuggingFace(model.path()).arch();
        TensorNames names;
        try {
            names = TensorNames.forArchitecture(ggufArch);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(model.path(), e.getMessage());
        }
        int[][] windows = CalibrationSet.first(model, text, seqlen, samples);
        ModuleObservers<MeanSquareObserver> observer = new ModuleObservers<>(MeanSquareObserver::new);
        Map<String, Imatrix.Entry> entries = new LinkedHashMap<>();
        try (LlamaRunner runner = LlamaRunner.open(model, threads)) {
            LayerwiseCapture.run(runner, windows, BATCH, false, new LayerwiseCapture.Step() {
                @Override
                public List<LinearObserver> observers(int layer, Set<LinearInput> inputs) {
                    return List.of(observer);
                }

                @Override
                public void afterStage(int layer, Set<LinearInput> inputs, LlamaRunner r) {
                    for (LinearInput in : inputs) {
                        for (Linear l : in.readers()) {
                            String key = ObservingHook.key(r.config().architecture(), layer, l);
                            MeanSquareObserver o = observer.get(key);
                            double[] mean = o.meanSquare();
                            long n = o.tokens();
                            float[] sums = new float[mean.length];
                            for (int i = 0; i < mean.length; i++) sums[i] = (float) (mean[i] * n);
                            String hf = r.config().architecture().linearName(layer, l) + ".weight";
                            TensorNames.Mapping m = names.map(hf, new long[] {1, mean.length});
                            if (m == null) throw new IllegalStateException("no GGUF name for " + hf);
                            entries.put(m.ggufName(), new Imatrix.Entry(sums, new float[] {n}));
                        }
                    }
                }
            });
        }
        Imatrix computed = new Imatrix(entries, List.of(text.getFileName().toString()), windows.length, seqlen);
        // activations that overflowed would give NaN/Inf importance: refuse rather than write NaN scales
        computed.requireUsable("--calib " + text);
        return computed;
    }
}
