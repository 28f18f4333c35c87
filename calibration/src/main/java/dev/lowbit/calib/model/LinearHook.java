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

    /**
     * Whether the hook may see one Linear input of a batch in several calls, a block of consecutive rows each (hooks
     * that only accumulate statistics over rows): the runner may then run a big batch in chunks of rows to bound its
     * memory. A hook that keeps or replaces the array it is given must answer false (the default).
     */
    default boolean acceptsRowChunks() {
        return false;
    }
}
