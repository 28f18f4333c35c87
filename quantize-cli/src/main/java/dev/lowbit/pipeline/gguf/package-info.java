/**
 * GGUF for llama.cpp, end to end.
 *
 * <pre>
 * HF directory ─► HfSourceModel ─┐                         ┌─► RowEncoder (rows → f32 → ggml blocks, 2 threads)
 *                               ├─► BitAllocation ─► checks ┤                                    │
 * .gguf file ──► GgufFileSourceModel┘ (LlamaCppMix: llama-   └─► GgufWriter (temp file, rename) ◄─┘
 *                                     quantize's per-tensor types)
 * --imatrix FILE ─► Imatrix (GGUF or legacy .dat)   --calib TEXT ─► ImatrixCalibration (lowbit's runner reading
 *                                                      the directory or the .gguf through a ModelSource)
 * </pre>
 *
 * {@code lowbit evaluate X.gguf} needs nothing from here: the runner reads the file through
 * {@link dev.lowbit.io.model.ModelSource} (rows dequantized on demand, nothing written to disk).
 *
 * {@link dev.lowbit.pipeline.gguf.GgufQuantizePipeline#run} is the entry point of {@code lowbit convert} and
 * {@code lowbit quantize --format gguf}.
 */
package dev.lowbit.pipeline.gguf;
