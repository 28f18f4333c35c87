package dev.lowbit.batch;

import java.io.Serializable;

/**
 * One job of a sweep: quantize {@code modelPath} with {@code recipeJson}, then evaluate the artifact against the model.
 * Plain strings and numbers, so a Spark task can carry it to an executor.
 *
 * @param id          unique in the sweep and a directory name: {@code <model>.<method>.<scheme>.<format>}
 * @param scheme      {@code w4g128} (bits and group size; {@code w4pc} per channel) or the GGUF mix ({@code Q4_K_M}),
 *                    or the recipe file's name for a recipe given whole
 * @param bits        bits per weight of the grid, 0 for a GGUF mix or a recipe given whole
 * @param recipeJson  the validated recipe (version 2), every parameter explicit and files as absolute paths
 * @param recipeHash  sha256 of {@code recipeJson} with the calibration file's own sha256 inside: what resuming compares
 * @param parameters  parameters of the source model (every tensor), for bits per weight of the whole artifact
 * @param source      the sweep line the job comes from, for messages
 */
record JobSpec(String id, String model, String modelPath, String method, String format, String scheme, int bits,
               int groupSize, String recipeJson, String recipeHash, long parameters, String source) implements Serializable {

    boolean gguf() {
        return "gguf".equals(format);
    }

    /** The artifact's name inside the job's directory. */
    String artifactName() {
        return gguf() ? "model.gguf" : "model";
    }
}
