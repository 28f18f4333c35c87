package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every weight of tiny-llama-code (all 57 tensors, 27.3M values, real bf16 weights), quantized row by row with each
 * legacy block type and decoded again, stays within half a quantization step of the original.
 *
 * <p>Bound per block, with step = the block's scale (amax/127, amax/8, amax/16, (max−min)/15, (max−min)/31):
 * |x − x̂| ≤ step·(1/2 + qmax·2^−11) + |min|·2^−11 — half a step from rounding, plus the fp16 rounding of the stored
 * scale (relative 2^−11) times the largest code, plus the fp16-rounded min of Q4_1/Q5_1. Q4_0 and Q5_0 put the
 * signed maximum on the grid's longer side, so the opposite extreme can clamp by up to one whole step; the test
 * allows that only for elements at the clamped level.
 */
class GgmlTinyLlamaErrorTest {
    @ParameterizedTest
    @CsvSource({"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"})
    void everyWeightWithinHalfAStep(GgmlType type) {
        BlockCodec codec = BlockCodecs.forType(type);
        long checked = 0;
        try (TensorSource src = ShardedSafetensors.open(SharedData.tinyLlama())) {
            for (String name : src.names()) {
                Tensor t = src.tensor(name);
                int cols = (int) t.shape().rowLength();
                if (cols % 32 != 0) fail(name + ": row length " + cols + " is not a multiple of 32");
                float[] row = new float[cols], back = new float[cols];
                MemorySegment buf = MemorySegment.ofArray(new byte[(int) codec.rowBytes(cols)]);
                for (long r = 0; r < t.shape().rows(); r++) {
                    t.toFloats(r * cols, row, 0, cols);
                    codec.quantizeRow(row, 0, cols, buf, 0);
                    codec.dequantizeRow(buf, 0, back, 0, cols);
                    for (int b = 0; b < cols; b += 32) check(type, name, r, row, back, b);
                    checked += cols;
                }
            }
        }
        assertEquals(27_269_632L, checked);
    }

    private static void check(GgmlType type, String name, long r, float[] x, float[] y, int from) {
        float lo = Float.MAX_VALUE, hi = -Float.MAX_VALUE, signedMax = 0;
        for (int j = from; j < from + 32; j++) {
            lo = Math.min(lo, x[j]);
            hi = Math.max(hi, x[j]);
            if (Math.abs(x[j]) > Math.abs(signedMax)) signedMax = x[j];
        }
        float amax = Math.max(-lo, hi);
        float step = switch (type) {
            case Q8_0 -> amax / 127;
            case Q4_0 -> amax / 8;
            case Q5_0 -> amax / 16;
            case Q4_1 -> (hi - lo) / 15;
            default -> (hi - lo) / 31;
        };
        boolean clamps = type == GgmlType.Q4_0 || type == GgmlType.Q5_0;
        float half = step * (0.5f + 127 * 0x1p-11f) + Math.abs(lo) * 0x1p-11f + 1e-7f;
        for (int j = from; j < from + 32; j++) {
            float err = Math.abs(x[j] - y[j]);
            // clamped level: same sign as −signedMax, beyond the grid's short side ((levels/2 − 1) steps)
            boolean clampedLevel = clamps && Math.signum(x[j]) == -Math.signum(signedMax)
                    && Math.abs(x[j]) > step * ((type == GgmlType.Q4_0 ? 7 : 15) + 0.5f) * (1 - 0x1p-10f);
            float bound = clampedLevel ? half + step / 2 : half;
            if (err > bound) fail(type + " " + name + " row " + r + " element " + j + ": error " + err + " > " + bound);
        }
    }
}
