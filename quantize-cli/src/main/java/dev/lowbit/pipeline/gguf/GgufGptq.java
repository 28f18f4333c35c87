package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.RotaryPermutation;
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
import dev.lowbit.ptq.observe.PackedSymmetric;
import dev.lowbit.ptq.search.GgmlSearch;
import dev.lowbit.ptq.search.GgmlSearches;
import dev.lowbit.io.ggml.Mxfp4;
import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantizedTensor;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * GPTQ into GGUF, one Linear at a time: the Linear is quantized by GPTQ onto its planned ggml type's grid
 * ({@link GgmlGrid}). The {@link dev.lowbit.pipeline.quantize.QuantizePipeline} calls it layer by layer and stage by
 * stage ({q,k,v} → {o} → {gate,up} → {down}) with Hessians of the inputs that the already-quantized prefix produces,
 * exactly as for the safetensors targets; what the runner continues with is what the GGUF file decodes to, and the
 * packed rows go to the GGUF writer as soon as the layer is done.
 *
 * <p>Layout: a Hugging Face weight is [out, in] row-major and a GGUF row is one output channel ({@code dims[0] = in}),
 * so GPTQ's columns (input channels) are the elements of a GGUF row and its blocks; each row is packed on its own,
 * and the rope permutation of q/k only reorders whole packed rows afterwards.
 *
 * <p>A Linear whose planned type is not an integer grid (IQ4_NL, TQ, F16 …) is rounded by its codec's search with
 * the Hessian diagonal as importance. A Hessian that is not positive definite after damping stops the run naming
 * the tensor, or, with {@code allowRtnFallback}, takes that same importance-weighted search for that Linear only.
 */
public final class GgufGptq {
    private GgufGptq() {}

    /**
     * GPTQ settings for {@code --method gptq} into GGUF.
     *
     * @param damp             damping, fraction of mean diag(H)
     * @param blockSize        lazy-batch width
     * @param actOrder         sweep columns by decreasing diag(H); a block's parameters are fitted when the sweep first
     *                         reaches one of its columns
     * @param weightedSearch   give each block's scale search the Hessian diagonal as importance (as llama.cpp's imatrix)
     * @param allowRtnFallback a Linear whose Hessian is not positive definite after damping is rounded by the
     *                         importance-weighted search instead of stopping the run
     */
    public record GptqOptions(double damp, int blockSize, boolean actOrder, boolean weightedSearch, boolean allowRtnFallback) {
        GptqConfig.Options sweep() {
            return new GptqConfig.Options(damp, blockSize, actOrder);
        }
    }

    /** Packed rows (HF row order) and the values they decode to, which the model continues with. */
    public record Quantized(byte[] packed, float[] values) {}

    /**
     * One Linear onto its planned type. The weights are finite: the model check scanned the source, and the pipeline
     * scans what transforms change.
     *
     * @param w         row-major {@code rows × cols} (Hugging Face {@code [out, in]})
     * @param h         Σxxᵀ of the Linear's inputs, {@code cols × cols}, as its upper triangle: solved in place
     * @param fallbacks receives {@code name} when the Linear fell back to the weighted search
     */
    public static Quantized quantize(String name, GgmlType type, float[] w, int rows, int cols, PackedSymmetric h,
                                     GptqOptions options, List<String> fallbacks) {
        GptqConfig.Options sweep = options.sweep();
        // the weighted search's importance if the sweep cannot run: diag H as given (the sweep works in h itself)
        float[] importance = new float[cols];
        for (int c = 0; c < cols; c++) importance[c] = (float) h.diagonal(c);
        if (type == GgmlType.MXFP4) {
            // E2M1 under a power-of-two scale per 32 is not a·k + b per element: GPTQ sweeps onto the OCP MXFP4 grid
            // (ggml's own exponent rule), whose codes and scales are ggml's block bytes as they stand
            FpGrid grid = new FpGrid(FloatSchemes.MXFP4, FpGrid.MxExponent.OCP, FpGrid.FourOverSix.OFF, rows, cols);
            try {
                Gptq.sweep(name, w, rows, cols, h, sweep, grid, Linalg.kernels(), true);
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
                Gptq.sweep(name, w, rows, cols, h, sweep, grid, Linalg.kernels(), true);
                return new Quantized(grid.packed(), grid.values());
            } catch (NotPositiveDefiniteException e) {
                if (!options.allowRtnFallback()) {
                    throw new BadInputException(name, "Hessian is not positive definite after damping " + options.damp()
                            + "·mean(diag H); raise --damp, use more --calib-samples, or pass --allow-rtn-fallback");
                }
                fallbacks.add(name);
            }
        }
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

}
