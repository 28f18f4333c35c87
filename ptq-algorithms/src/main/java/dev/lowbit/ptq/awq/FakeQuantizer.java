package dev.lowbit.ptq.awq;

/**
 * Quantize-dequantize of a weight {@code [rows, cols]} under the target scheme: ŵ = Q(w), a new array. The AWQ
 * searches score candidates through it, so the search sees the quantizer that will really be used (our RTN grid,
 * AWQ's own min/max, a ggml block type …).
 */
@FunctionalInterface
public interface FakeQuantizer {
    float[] apply(float[] w, int rows, int cols);
}
