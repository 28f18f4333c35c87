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
 *
 * <p>{@link Measure#KL}: each (Linear, candidate) is instead scored end to end, by the KL divergence of the model's
 * next-token distribution with only that Linear replaced by its quantized image, from the fp model's, over a few held
 * windows (the fp hidden state at every layer's input is cached once, so a score reruns only the layers from the
 * Linear's onwards). It sees what the layer-local proxy cannot: how much an error in an early layer is amplified by the
 * rest of the network (llama.cpp's mixes protect early ffn_down for that reason). The integer program then adds the
 * per-Linear KLs, a first-order model of the joint loss. Cost: per Linear and candidate, one partial forward over the
 * KL windows. Memory: the cached hidden states (layers × windows × tokens × hidden f32), the fp log-probabilities
 * (windows × tokens × vocab f32) and one layer's candidate images.
 */
public final class SensitivityPass {
    private static final int BATCH = 8;

    /** How candidates are quantized for scoring. */
    public enum Method { RTN, GPTQ }

    /** What a candidate's score measures: the layer-local output error, or the end-to-end KL divergence. */
    public enum Measure { HESSIAN, KL }

    /**
     * One Linear's scores: its name and dims as the target names them (GGUF name and dims, or the Hugging Face module
     * and {@code [out, in]}), and per candidate its score; {@code images} (the candidates' quantized weights) only
     * while a KL pass needs them.
     */
    public record Scored<C>(String name, long[] dims, Map<C, Double> error, Map<C, float[]> images) {
        public Scored(String name, long[] dims, Map<C, Double> error) {
            this(name, dims, error, Map.of());
        }
    }

    /** How one candidate quantizes one Linear: its dequantized image. */
    @FunctionalInterface
    public interface Quantizer<C> {
        /**
         * @param h          the Linear's Σxxᵀ over the calibration tokens ({@code cols × cols}; may be modified)
         * @param importance mean x² per input column (llama.cpp's imatrix statistic)
         */
        float[] image(String name, C candidate, float[] w, int rows, int cols, double[] h, float[] importance);
    }

    /** How the target names a Linear: {@code hfWeight} ({@code ….weight}) of PyTorch shape {@code [out, in]} → name, dims. */
    @FunctionalInterface
    public interface Naming {
        Scored<Void> name(String hfWeight, long[] shape);
    }

    private SensitivityPass() {}

    public static List<Scored<GgmlType>> run(Path modelDir, int[][] windows, List<GgmlType> candidates, Method method,
                                             GptqConfig.Options gptq, int threads, Consumer<String> progress) {
        return run(modelDir, windows, candidates, method, gptq, null, threads, progress);
    }

    /**
     * GGUF candidates (ggml types), named as the GGUF file names them.
     *
     * @param klWindows windows for {@link Measure#KL} scores (token ids), or {@code null} for the Hessian proxy
     */
    public static List<Scored<GgmlType>> run(Path modelDir, int[][] windows, List<GgmlType> candidates, Method method,
                                             GptqConfig.Options gptq, int[][] klWindows, int threads, Consumer<String> progress) {
        ModelHyperparameters hp = ModelHyperparameters.fromHuggingFace(modelDir);
        TensorNames names = TensorNames.forArchitecture(hp.arch());
        LinalgKernels kernels = Linalg.kernels();
        Naming naming = (hf, shape) -> {
            TensorNames.Mapping m = names.map(hf, shape);
            if (m == null) throw new IllegalStateException("no GGUF name for " + hf);
            return new Scored<>(m.ggufName(), m.ggufDims(), Map.of());
        };
        Quantizer<GgmlType> quantizer = (name, t, w, rows, cols, h, importance) -> method == Method.GPTQ
                ? gptq(name, t, w, rows, cols, h, gptq, kernels, importance) : searched(t, w, rows, cols, importance);
        return run(modelDir, windows, candidates, quantizer, naming, klWindows, threads, progress);
    }

    /**
     * Any candidates: each decoder Linear quantized by {@code quantizer} to each candidate, scored by the Hessian
     * proxy or ({@code klWindows} non-null) by KL.
     */
    public static <C> List<Scored<C>> run(Path modelDir, int[][] windows, List<C> candidates, Quantizer<C> quantizer,
                                          Naming naming, int[][] klWindows, int threads, Consumer<String> progress) {
        LinalgKernels kernels = Linalg.kernels();
        List<Scored<C>> out = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads));
        try (LlamaRunner runner = LlamaRunner.open(modelDir, threads)) {
            Architecture arch = runner.config().architecture();
            KlProbe kl = klWindows == null ? null : new KlProbe(runner, klWindows);
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
                            Scored<Void> id = naming.name(hf, shape);
                            float[] w = r.linearWeight(layer, l);
                            Scored<C> sc = score(pool, id.name(), id.dims(), w, rows, cols, h, n, candidates, quantizer, kernels, kl != null);
                            if (kl != null) sc = kl.score(sc, layer, l, w);
                            out.add(sc);
                        }
                    }
                }

                @Override
                public void afterLayer(int layer, LlamaRunner r) {
                    progress.accept("layer " + (layer + 1) + "/" + r.config().numLayers() + " scored (" + candidates.size() + " candidates"
                            + (kl != null ? ", KL" : "") + ")");
                }
            });
        } finally {
            pool.shutdownNow();
        }
        return out;
    }

    /**
     * End-to-end scores: the fp model's hidden state at each layer's input and its log-probabilities over the KL
     * windows, computed once; a candidate's score is KL(fp ‖ model with one Linear replaced), mean over tokens.
     */
    private static final class KlProbe {
        private final LlamaRunner runner;
        private final float[][] inputs;
        private final long[] shape;
        private final ai.djl.ndarray.NDArray fpLogp, fpP;

        KlProbe(LlamaRunner runner, int[][] windows) {
            this.runner = runner;
            int layers = runner.config().numLayers();
            inputs = new float[layers][];
            ai.djl.ndarray.NDArray h = runner.embed(windows);
            shape = h.getShape().getShape();
            for (int l = 0; l < layers; l++) {
                inputs[l] = h.toFloatArray();
                ai.djl.ndarray.NDArray next = runner.runLayer(l, h, dev.lowbit.calib.model.LinearHook.NONE);
                h.close();
                h = next;
                runner.releaseLayer(l);
            }
            ai.djl.ndarray.NDArray logits = runner.finalLogits(h);
            h.close();
            fpLogp = logits.logSoftmax(1);
            fpP = fpLogp.exp();
            logits.close();
        }

        /** {@code scored} with each candidate's error replaced by its KL; the Linear's weight {@code w} is restored. */
        <C> Scored<C> score(Scored<C> scored, int layer, Linear linear, float[] w) {
            Map<C, Double> kl = new LinkedHashMap<>();
            try {
                for (Map.Entry<C, float[]> e : scored.images().entrySet()) {
                    runner.setLinearWeight(layer, linear, e.getValue());
                    kl.put(e.getKey(), divergence(layer));
                }
            } finally {
                runner.setLinearWeight(layer, linear, w);
            }
            return new Scored<>(scored.name(), scored.dims(), kl);
        }

        private double divergence(int from) {
            // every intermediate (logits, log-probabilities, the KL terms: windows × tokens × vocab each) is freed
            // here, not when the runner closes: a pass scores hundreds of candidates
            try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                ai.djl.ndarray.NDArray h = runner.hidden(inputs[from], Math.toIntExact(shape[0]), Math.toIntExact(shape[1]));
                for (int l = from; l < inputs.length; l++) {
                    ai.djl.ndarray.NDArray next = runner.runLayer(l, h, dev.lowbit.calib.model.LinearHook.NONE);
                    h.close();
                    h = next;
                }
                // the runner's outputs are unregistered from its own scopes, so not in this one: closed by hand
                ai.djl.ndarray.NDArray logits = runner.finalLogits(h);
                h.close();
                ai.djl.ndarray.NDArray logp = logits.logSoftmax(1);
                logits.close();
                float sum = fpP.mul(fpLogp.sub(logp)).sum().getFloat();
                // KL ≥ 0; rounding can leave a replaced Linear that changes nothing a hair below it
                return Math.max(0.0, sum / fpLogp.getShape().get(0));
            }
        }
    }

    private static <C> Scored<C> score(ExecutorService pool, String name, long[] dims, float[] w, int rows, int cols, double[] h,
                                       long n, List<C> candidates, Quantizer<C> quantizer, LinalgKernels kernels, boolean keepImages) {
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) throw new BadInputException(name, "weight [" + i / cols + ", " + i % cols + "] is " + w[i]);
        }
        float[] hf = new float[h.length];
        for (int i = 0; i < h.length; i++) hf[i] = (float) h[i];
        float[] importance = new float[cols]; // mean x², llama.cpp's imatrix statistic
        for (int c = 0; c < cols; c++) importance[c] = (float) (h[c * cols + c] / Math.max(1, n));
        record Image(float[] values, double error) {}
        List<Future<Image>> jobs = new ArrayList<>();
        for (C t : candidates) {
            jobs.add(pool.submit(() -> {
                // each candidate gets its own copy of H: GPTQ damps and factorises it in place
                float[] q = quantizer.image(name, t, w, rows, cols, h.clone(), importance);
                return new Image(q, OutputError.of(w, q, rows, cols, hf, n, kernels));
            }));
        }
        Map<C, Double> error = new LinkedHashMap<>();
        Map<C, float[]> images = new LinkedHashMap<>();
        try {
            for (int i = 0; i < candidates.size(); i++) {
                Image q = jobs.get(i).get();
                error.put(candidates.get(i), q.error());
                if (keepImages) images.put(candidates.get(i), q.values());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IllegalStateException(e.getCause());
        }
        return new Scored<>(name, dims, error, images);
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
