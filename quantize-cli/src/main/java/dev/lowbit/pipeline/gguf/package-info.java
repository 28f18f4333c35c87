/**
 * The GGUF target of the one {@link dev.lowbit.pipeline.quantize.QuantizePipeline}.
 *
 * <pre>
 * ModelSource (HF directory or .gguf) ─► GgufLayout: metadata, GGUF names, BitAllocation (LlamaCppMix: llama-quantize's
 *                                        per-tensor types) ─► GgufArtifactWriter.validate (block fit, re-quantization)
 * per layer, from the pipeline:  Kept / Floats ─► RowEncoder (rows → f32 → the type's own search, 2 threads)
 *                                Ggml (GgufGptq: GPTQ onto the type's grid) ────────────────► written at its offset
 * --imatrix FILE ─► Imatrix (GGUF or legacy .dat)   --calib TEXT ─► ImatrixCalibration (lowbit's runner reading
 *                                                      the directory or the .gguf through a ModelSource)
 * </pre>
 *
 * {@code lowbit evaluate X.gguf} needs nothing from here: the runner reads the file through
 * {@link dev.lowbit.io.model.ModelSource} (rows dequantized on demand, nothing written to disk).
 */
package dev.lowbit.pipeline.gguf;
