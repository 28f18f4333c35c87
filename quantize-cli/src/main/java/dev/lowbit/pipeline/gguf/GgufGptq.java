package dev.lowbit.pipeline.gguf;

import dev.lowbit.calib.capture.LayerwiseCapture;
import dev.lowbit.calib.data.CalibrationSet;
import dev.lowbit.calib.model.Architecture;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.observe.EngineHessians;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ObservingHook;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.ExportPlan;
import dev.lowbit.io.export.ModelHyperparameters;
import dev.lowbit.io.export.PlannedTensor;
import dev.lowbit.io.export.RotaryPermutation;
import dev.lowbit.io.export.TensorNames;
import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.BlockGrid;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.gptq.NotPositiveDefiniteException;
import dev.lowbit.ptq.grid.FpGrid;
import dev.lowbit.ptq.grid.GgmlGrid;
import dev.lowbit.ptq.search.GgmlSearch;
import dev.lowbit.ptq.search.GgmlSearches;
import dev.lowbit.io.ggml.Mxfp4;
import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantizedTensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * GPTQ into GGUF: every decoder Linear of the plan is quantized by GPTQ onto its planned ggml type's grid
 * ({@link GgmlGrid}), layer by layer and stage by stage ({q,k,v} → {o} → {gate,up} → {down}) with Hessians of the
 * inputs that the already-quantized prefix produces, exactly as the safetensors GPTQ path runs
 * ({@link LayerwiseCapture}). What the runner continues with is what the GGUF file decodes to.
 *
 * <p>Layout: a Hugging Face weight is [out, in] row-major and a GGUF row is one output channel ({@code dims[0] = in}),
 * so GPTQ's columns (input channels) are the elements of a GGUF row and its blocks; each row is packed on its own,
 * and the rope permutation of q/k only reorders whole packed rows afterwards.
 *
 * <p>A Linear whose planned type is not an integer grid (IQ4_NL, TQ, F16 …) is rounded by its codec's search with
 * the Hessian diagonal as importance. A Hessian that is not positive definite after damping stops the run naming
 * the tensor, or, with {@code allowRtnFallback}, takes that same importance-weighted search for that Linear only.
 */
final class GgufGptq {
    /** Windows per forward pass. */
    private static final int BATCH = 8;

    private GgufGptq() {}

    /** What the pass produced: GGUF tensor name → packed rows in GGUF row order, and the Linears that fell back. */
    record Result(Map<String, byte[]> tensors, List<String> fallbacks) {}

    static Result run(Path modelDir, ExportPlan plan, Path calib, int seqlen, int samples, GgufQuantizePipeline.GptqOptions options, int threads,
                      Consumer<String> progress) {
        if (!Files.isDirectory(modelDir)) {
            throw new BadInputException(modelDir, "--method gptq needs a Hugging Face model directory to run the model on");
        }
        if (calib == null) throw new BadInputException("--method gptq", "needs calibration text (--calib FILE)");
        if (seqlen < 2 || samples < 1) throw new BadInputException("--calib", "needs --calib-seqlen ≥ 2 and --calib-samples ≥ 1");
        if (options.blockSize() < 1 || !(options.damp() >= 0)) {
            throw new BadInputException("--method gptq", "needs --block-size ≥ 1 and --damp ≥ 0");
        }
        ModelHyperparameters hp = ModelHyperparameters.fromHuggingFace(modelDir);
        TensorNames names = TensorNames.forArchitecture(hp.arch());
        Map<String, PlannedTensor> planned = new HashMap<>();
        for (PlannedTensor t : plan.tensors()) planned.put(t.name(), t);
        int[][] windows = CalibrationSet.first(modelDir, calib, seqlen, samples);
        GptqConfig.Options sweep = new GptqConfig.Options(options.damp(), options.blockSize(), options.actOrder());

        Map<String, byte[]> out = new LinkedHashMap<>();
        List<String> fallbacks = new java.util.ArrayList<>();
        try (LlamaRunner runner = LlamaRunner.open(modelDir, threads)) {
            Architecture arch = runner.config().architecture();
            LayerwiseCapture.run(runner, windows, BATCH, true, new LayerwiseCapture.Step() {
                EngineHessians hessians;

                @Override
                public List<LinearObserver> observers(int layer, Set<LinearInput> inputs) {
                    hessians = new EngineHessians();
                    return List.of(hessians);
                }

                @Override
                public void afterStage(int layer, Set<LinearInput> inputs, LlamaRunner r) {
                    for (LinearInput in : inputs) {
                        for (Linear l : in.readers()) {
                            String hf = arch.linearName(layer, l) + ".weight";
                            long[] shape = r.linearShape(l);
                            int rows = Math.toIntExact(shape[0]), cols = Math.toIntExact(shape[1]);
                            TensorNames.Mapping m = names.map(hf, shape);
                            if (m == null) throw new IllegalStateException("no GGUF name for " + hf);
                            PlannedTensor t = planned.get(m.ggufName());
                            if (t == null) throw new IllegalStateException("the plan has no tensor " + m.ggufName());
                            double[] h = hessians.get(ObservingHook.key(arch, layer, l)).sum();
                            float[] w = r.linearWeight(layer, l);
                            Quantized q = quantize(m.ggufName(), t.type(), w, rows, cols, h, sweep, options, fallbacks);
                            r.setLinearWeight(layer, l, q.values());
                            int heads = switch (m.rows()) {
                                case PERMUTE_Q -> hp.headCount();
                                case PERMUTE_K -> hp.headCountKv();
                                case AS_IS -> 0;
                            };
                            out.put(m.ggufName(), heads == 0 ? q.packed() : permuteRows(q.packed(), rows, heads));
                        }
                    }
                }

                @Override
                public void afterLayer(int layer, LlamaRunner r) {
                    progress.accept("layer " + (layer + 1) + "/" + r.config().numLayers() + " quantized (gptq → gguf)");
                }
            });
        }
        return new Result(out, List.copyOf(fallbacks));
    }

    /** Packed rows (HF row order) and the values they decode to, which the model continues with. */
    record Quantized(byte[] packed, float[] values) {}

    static Quantized quantize(String name, GgmlType type, float[] w, int rows, int cols, double[] h,
                                      GptqConfig.Options sweep, GgufQuantizePipeline.GptqOptions options, List<String> fallbacks) {
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) {
                throw new BadInputException(name, "weight [" + i / cols + ", " + i % cols + "] is " + w[i] + "; cannot quantize non-finite weights");
            }
        }
        if (type == GgmlType.MXFP4) {
            // E2M1 under a power-of-two scale per 32 is not a·k + b per element: GPTQ sweeps onto the OCP MXFP4 grid
            // (ggml's own exponent rule), whose codes and scales are ggml's block bytes as they stand
            FpGrid grid = new FpGrid(FloatSchemes.MXFP4, FpGrid.MxExponent.OCP, FpGrid.FourOverSix.OFF, rows, cols);
            try {
                Gptq.sweep(name, w, rows, cols, h, sweep, grid, Linalg.kernels());
                QuantizedTensor q = grid.result(name);
                return new Quantized(Mxfp4.fromQuantized(q), q.dequantize());
            } catch (NotPositiveDefiniteException e) {
                if (!options.allowRtnFallback()) {
                    throw new BadInputException(name, "Hessian is not positive definite after damping " + options.damp()
                            + "·mean(diag H); raise --damp, use more --calib-samples, or pass --allow-rtn-fallback");
                }
                fallbacks.add(name);
            }
        } else if (BlockGrid.of(type) != null) {
            GgmlGrid grid = new GgmlGrid(type, options.weightedSearch(), rows, cols);
            try {
                Gptq.sweep(name, w, rows, cols, h, sweep, grid, Linalg.kernels());
                return new Quantized(grid.packed(), grid.values());
            } catch (NotPositiveDefiniteException e) {
                if (!options.allowRtnFallback()) {
                    throw new BadInputException(name, "Hessian is not positive definite after damping " + options.damp()
                            + "·mean(diag H); raise --damp, use more --calib-samples, or pass --allow-rtn-fallback");
                }
                fallbacks.add(name);
            }
        }
        float[] importance = new float[cols];
        for (int c = 0; c < cols; c++) importance[c] = (float) h[c * cols + c];
        BlockCodec codec = BlockCodecs.forType(type);
        GgmlSearch search = GgmlSearches.forType(type);
        long rowBytes = codec.rowBytes(cols);
        byte[] packed = new byte[Math.toIntExact(rows * rowBytes)];
        MemorySegment seg = MemorySegment.ofArray(packed);
        float[] values = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            search.quantizeRow(w, r * cols, cols, search.usesImportance() ? importance : null, seg, r * rowBytes);
            codec.dequantizeRow(seg, r * rowBytes, values, r * cols, cols);
        }
        return new Quantized(packed, values);
    }

    /** GGUF row i is HF row {@link RotaryPermutation#sourceRow}: whole packed rows move. */
    private static byte[] permuteRows(byte[] packed, int rows, int heads) {
        int rowBytes = packed.length / rows;
        byte[] out = new byte[packed.length];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(packed, RotaryPermutation.sourceRow(i, rows, heads) * rowBytes, out, i * rowBytes, rowBytes);
        }
        return out;
    }
}
