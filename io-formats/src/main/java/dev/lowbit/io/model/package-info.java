/**
 * Model inputs, one interface for every format.
 *
 * <pre>
 * directory ──► HfModelSource ───┐  config.json (HfConfig), tokenizer.json, safetensors (single or sharded, mapped;
 *                                │  GPTQ / compressed-tensors dequantized per tensor)
 *                                ├─► ModelSource: config · architecture · tokenizer · f32 rows by Hugging Face name
 * .gguf ──────► GgufModelSource ─┘  metadata → config.json and tokenizer.json (GgufTokenizerJson), ggml blocks decoded
 *                                   row by row, q/k rows read back in rotate-half order
 * </pre>
 *
 * {@link dev.lowbit.io.model.ModelSource#open} picks the kind by content (a directory, or the GGUF magic). Nothing is
 * converted to a temporary directory and no whole model is copied onto the heap: the runner, {@code lowbit evaluate}
 * and the importance-matrix calibration read rows as they need them.
 */
package dev.lowbit.io.model;
