package dev.lowbit.calib.model;

import ai.djl.ndarray.NDArray;

/**
 * What {@link LlamaRunner} does to the input of a Linear before the matmul (activation quantization, later online
 * Hadamard rotations): given the input {@code x [rows, in]} shared by {@code input}'s readers in {@code layer},
 * returns the array the Linears read (x itself when nothing applies). Observing hooks still see the unmodified x.
 *
 * <p>Implementations: {@link ScaledActivations} (int or FP8 E4M3; per-token dynamic, per-tensor static or dynamic). Arrays created
 * here live in the layer's NDScope; do not close x.
 */
@FunctionalInterface
public interface ActivationQuantizer {
    ActivationQuantizer NONE = (layer, input, x) -> x;

    NDArray apply(int layer, LinearInput input, NDArray x);

    /** This quantizer where {@code where} holds, identity elsewhere (e.g. one Linear input at a time). */
    default ActivationQuantizer onlyWhere(java.util.function.BiPredicate<Integer, LinearInput> where) {
        return (layer, input, x) -> where.test(layer, input) ? apply(layer, input, x) : x;
    }
}
