package dev.lowbit.pipeline.plan;

import dev.lowbit.calib.capture.LayerwiseCapture;
import dev.lowbit.calib.model.Architecture;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.observe.EngineHessians;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ObservingHook;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.ModelHyperparameters;
import dev.lowbit.io.export.TensorNames;
import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.ptq.observe.HessianObserver;
import dev.lowbit.ptq.search.GgmlSearch;
import dev.lowbit.ptq.search.GgmlSearches;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.BlockGrid;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.kernels.linalg.LinalgKernels;
import dev.lowbit.ptq.alloc.OutputError;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.gptq.NotPositiveDefiniteException;
import dev.lowbit.ptq.grid.GgmlGrid;
import dev.lowbit.ptq.search.GgmlSearch;
import dev.lowbit.ptq.search.GgmlSearches;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * The sensitivity of every (decoder Linear, candidate ggml type): each Linear's weights are really quantized to each
 * candidate — by the type's own importance-weighted scale search (what llama-quantize does with an imatrix), or by
 * GPTQ onto the type's grid — and scored by the output error under the calibration Hessian,
 * {@code tr(ΔW H ΔWᵀ)/n} ({@link OutputError}).
 *
 * <p>One forward pass of the unquantized model over the calibration windows (all four inputs of a layer observed at
 * once; nothing is substituted, so each Linear is scored on the inputs the full-precision model gives it, independently
 * of the others — the additivity the integer program assumes). Cost: that forward pass plus, per Linear and
 * candidate, one quantization and one rows × cols × cols GEMM.
 */
public final class SensitivityPass {
    private static final int BATCH = 8;

    /** How candidates are quantized for scoring. */
    public enum Method { RTN, GPTQ }

    /** One Linear's scores: GGUF name, GGUF dims, and per candidate type its exact bytes and output error. */
    public record Scored(String name, long[] dims, Map<GgmlType, Double> error) {}

    private SensitivityPass() {}

    public static List<Scored> run(Path modelDir, int[][] windows, List<GgmlType> candidates, Method method,
                                   GptqConfig.Options gptq, int threads, Consumer<String> progress) {
        ModelHyperparameters hp = ModelHyperparameters.fromHuggingFace(modelDir);
        TensorNames names = TensorNames.forArchitecture(hp.arch());
        LinalgKernels kernels = Linalg.kernels();
        List<Scored> out = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads));
        try (LlamaRunner runner = LlamaRunner.open(modelDir, threads)) {
            Architecture arch = runner.config().architecture();
            LayerwiseCapture.run(runner, windows, BATCH, false, new LayerwiseCapture.Step() {
                EngineHessians hessians;

                @Override
                public List<LinearObserver> observers(int layer, Set<LinearInput> inputs) {
                    hessians = new EngineHessians();
                    return List.of(hessians);
                }

                @Override
                public void afterStage(int layer, Set<LinearInput> inputs, LlamaRunner r) {
                    for (LinearInput in : LinearInput.values()) {
                        if (!inputs.contains(in)) continue;
                        String key = ObservingHook.key(arch, layer, in.readers().getFirst());
                        double[] h = hessians.get(key).sum();
                        long n = hessians.get(key).tokens();
                        for (Linear l : in.readers()) {
                            String hf = arch.linearName(layer, l) + ".weight";
                            long[] shape = r.linearShape(l);
                            int rows = Math.toIntExact(shape[0]), cols = Math.toIntExact(shape[1]);
                            TensorNames.Mapping m = names.map(hf, shape);
                            if (m == null) throw new IllegalStateException("no GGUF name for " + hf);
                            float[] w = r.linearWeight(layer, l);
                            out.add(score(pool, m.ggufName(), m.ggufDims(), w, rows, cols, h, n, candidates, method, gptq, kernels));
                        }
                    }
                }

                @Override
                public void afterLayer(int layer, LlamaRunner r) {
                    progress.accept("layer " + (layer + 1) + "/" + r.config().numLayers() + " scored (" + candidates.size() + " candidates)");
                }
            });
        } finally {
            pool.shutdownNow();
        }
        return out;
    }

    private static Scored score(ExecutorService pool, String name, long[] dims, float[] w, int rows, int cols, double[] h,
                                long n, List<GgmlType> candidates, Method method, GptqConfig.Options gptq, LinalgKernels kernels) {
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) throw new BadInputException(name, "weight [" + i / cols + ", " + i % cols + "] is " + w[i]);
        }
        float[] hf = new float[h.length];
        for (int i = 0; i < h.length; i++) hf[i] = (float) h[i];
        float[] importance = new float[cols]; // mean x², llama.cpp's imatrix statistic
        for (int c = 0; c < cols; c++) importance[c] = (float) (h[c * cols + c] / Math.max(1, n));
        List<Future<Double>> jobs = new ArrayList<>();
        for (GgmlType t : candidates) {
            jobs.add(pool.submit(() -> {
                float[] q = method == Method.GPTQ ? gptq(name, t, w, rows, cols, h, gptq, kernels, importance)
                        : searched(t, w, rows, cols, importance);
                return OutputError.of(w, q, rows, cols, hf, n, kernels);
            }));
        }
        Map<GgmlType, Double> error = new LinkedHashMap<>();
        try {
            for (int i = 0; i < candidates.size(); i++) error.put(candidates.get(i), jobs.get(i).get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IllegalStateException(e.getCause());
        }
        return new Scored(name, dims, error);
    }

    /** The type's own scale search, row by row, with importance weights where the codec takes them. */
    static float[] searched(GgmlType type, float[] w, int rows, int cols, float[] importance) {
        BlockCodec codec = BlockCodecs.forType(type);
        GgmlSearch search = GgmlSearches.forType(type);
        long rowBytes = codec.rowBytes(cols);
        MemorySegment seg = MemorySegment.ofArray(new byte[Math.toIntExact(rowBytes)]);
        float[] values = new float[w.length];
        for (int r = 0; r < rows; r++) {
            search.quantizeRow(w, r * cols, cols, search.usesImportance() ? importance : null, seg, 0);
            codec.dequantizeRow(seg, 0, values, r * cols, cols);
        }
        return values;
    }

    /** GPTQ onto the type's grid; a type that is not an integer grid (IQ4, F16) takes its searched rounding. */
    private static float[] gptq(String name, GgmlType type, float[] w, int rows, int cols, double[] h, GptqConfig.Options o,
                                LinalgKernels kernels, float[] importance) {
        if (BlockGrid.of(type) == null) return searched(type, w, rows, cols, importance);
        GgmlGrid grid = new GgmlGrid(type, true, rows, cols);
        try {
            Gptq.sweep(name, w, rows, cols, h, o, grid, kernels);
        } catch (NotPositiveDefiniteException e) {
            throw new BadInputException(name, "Hessian is not positive definite after damping; raise --damp or use more --calib-samples");
        }
        return grid.values();
    }
}
