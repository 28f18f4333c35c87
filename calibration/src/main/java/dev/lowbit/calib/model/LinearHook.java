package dev.lowbit.calib.model;

import ai.djl.ndarray.NDArray;

/**
 * Sees the input of each Linear while {@link LlamaRunner#runLayer} runs: {@code x} is f32 {@code [rows, in]}
 * with {@code rows = windows × tokens}. The array is only valid during the call (it belongs to the layer's scope);
 * copy with {@code x.toFloatArray()} to keep it.
 */
@FunctionalInterface
public interface LinearHook {
    LinearHook NONE = (layer, input, x) -> {};

    void onInput(int layer, LinearInput input, NDArray x);
}
