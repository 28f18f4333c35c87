package dev.lowbit.calib.observe;

import ai.djl.ndarray.NDArray;

/**
 * Optional fast path of a {@link LinearObserver}: receives the Linear input {@code [rows, cols]} as the engine's
 * f32 array (valid only during the call) so heavy statistics can run on the engine instead of the heap copy.
 */
public interface NDArrayObserver {
    void observe(String module, NDArray x);
}
