package dev.lowbit.pipeline.artifact;

import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.ptq.scheme.ZeroFloor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Map;

/**
 * One output target (GPTQ safetensors, compressed-tensors, GGUF; AWQ, ONNX and others are added the same way): takes
 * the tensors of a quantization run as they are finished and assembles the artifact, which appears at its path only
 * when complete. The {@link dev.lowbit.pipeline.quantize.QuantizePipeline} drives it in this order:
 * <pre>
 *   validate(plan)                   every target constraint of the whole plan; nothing has been written yet
 *   open(output, force, inputs)      claims the output through SafeOutput (lock, temp path)
 *   per decoder layer i, in order:   put(payload)… for each tensor of layer i, then finishLayer(i)
 *   globals:                         put(payload)… for each tensor outside the layers, then finishLayer(−1)
 *   commit(recipe, manifest)         config, recipe and manifest; rename into place
 *   close()                          always; removes the temp data if commit was not reached
 * </pre>
 *
 * <p>To implement one (a new {@code output.format}):
 * <ul>
 *   <li>{@link #validate}: throw a one-line {@link dev.lowbit.io.BadInputException} naming the tensor (or the flag)
 *       and the cause for anything the target cannot store: bits the packing lacks, shapes that do not pack, a
 *       granularity the format has no field for. Once it passes, {@link #put} must not fail on input the plan
 *       described (I/O errors aside).</li>
 *   <li>{@link #open}: {@code SafeOutput.directory} or {@code SafeOutput.file}; write only under
 *       {@link SafeOutput#path()}.</li>
 *   <li>{@link #put}: accept every {@link Payload} kind the plan implies; write or buffer it. Memory: keep at most one
 *       layer's tensors; a target whose layout allows it writes each tensor at once.</li>
 *   <li>{@link #commit}: write the target's config (a {@code quantization_config}, GGUF metadata), the recipe and
 *       the manifest (a directory holds {@code recipe.json} and {@code lowbit-manifest.json} listing every file; a
 *       single file gets the sidecar {@code FILE.lowbit-manifest.json} with the recipe inside), add the figures the
 *       target knows to the manifest, then {@link SafeOutput#commit}.</li>
 *   <li>Register it in {@link ArtifactWriters#forFormat}.</li>
 * </ul>
 * A writer serves one run and one thread.
 */
public interface ArtifactWriter extends AutoCloseable {

    /** The {@code output.format} this writer serves, e.g. {@code gptq}. */
    String format();

    /** Checks the whole plan against the target before anything is written; one-line bad input otherwise. */
    void validate(ArtifactPlan plan);

    /**
     * A constraint the quantizer must honour on integer grids, or {@code null}: GPTQ v1 stores {@code z − 1} unsigned,
     * so asymmetric zero points must stay ≥ 1 ({@link ZeroFloor#gptqV1()}).
     */
    default ZeroFloor zeroFloor() {
        return null;
    }

    /** Claims the output (after {@link #validate}). */
    void open(Path output, boolean force, SafeOutput.Inputs inputs);

    /** One finished tensor of the plan. */
    void put(Payload tensor) throws IOException;

    /** Every tensor of decoder layer {@code layer} (−1: the global tensors) has been put. */
    void finishLayer(int layer) throws IOException;

    /**
     * Writes config, {@code recipe} (as saved: calibration path relative to the output) and {@code manifest} (the
     * pipeline has put the recipe, inputs and seed in; the writer adds its figures), then puts the output in place.
     *
     * @return what was written
     */
    Committed commit(Recipe recipe, Manifest manifest) throws IOException;

    /** The committed output's path, size and figures (the same figures the manifest holds). */
    record Committed(Path path, long bytes, Map<String, Object> figures) {}

    /** Removes the temp data unless committed; releases the output lock. */
    @Override
    void close();

    /**
     * A tensor as the pipeline hands it over. Which kinds a writer gets follows from the plan: {@link Quantized} or
     * {@link Ggml} for quantized entries, {@link Kept} for tensors no step changed, {@link Floats} for tensors a
     * transform changed (or that a GGUF target encodes into its planned type).
     */
    sealed interface Payload {
        /** Hugging Face name of the tensor. */
        String name();

        /** A tensor no step changed, as it is in the source (dtype and bytes). */
        record Kept(String name, Tensor tensor) implements Payload {}

        /** f32 values in PyTorch shape, row-major (a transformed tensor, or rows decoded from the source). */
        record Floats(String name, long[] shape, float[] values) implements Payload {}

        /** A quantized Linear weight, for the target to pack. */
        record Quantized(String name, QuantizedTensor tensor) implements Payload {}

        /** Rows already encoded in a ggml block type, in Hugging Face row order (the GGUF writer permutes q/k). */
        record Ggml(String name, GgmlType type, MemorySegment bytes) implements Payload {}
    }
}
