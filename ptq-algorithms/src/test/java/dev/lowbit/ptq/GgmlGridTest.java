package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.BlockGrid;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.grid.GgmlGrid;
import dev.lowbit.ptq.search.GgmlSearches;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * GPTQ onto ggml block types ({@link GgmlGrid}): the packed blocks decode, through the codec's own dequantizer, to
 * exactly the values the sweep pushed its error against; with a diagonal Hessian (nothing to push) the sweep is the
 * type's importance-weighted search; with correlated inputs it beats that search on the layer-output error.
 */
class GgmlGridTest {
    static final int ROWS = 24, COLS = 512, TOKENS = 2048;
    static final GptqConfig.Options OPTIONS = new GptqConfig.Options(0.01, 128, false);

    /** Σ over rows of (w − ŵ)ᵀ H (w − ŵ): the layer-output error GPTQ minimises. */
    static double outputError(float[] w, float[] q, double[] h, int rows, int cols) {
        double total = 0;
        double[] d = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) d[c] = w[r * cols + c] - q[r * cols + c];
            for (int i = 0; i < cols; i++) {
                double s = 0;
                for (int j = 0; j < cols; j++) s += h[i * cols + j] * d[j];
                total += d[i] * s;
            }
        }
        return total;
    }

    static double[] hessian(float[] x, int n, int cols) {
        double[] h = new double[cols * cols];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < cols; i++) {
                double xi = x[t * cols + i];
                for (int j = 0; j < cols; j++) h[i * cols + j] += xi * x[t * cols + j];
            }
        }
        return h;
    }

    static float[] decode(GgmlType type, byte[] packed, int rows, int cols) {
        BlockCodec codec = BlockCodecs.forType(type);
        float[] y = new float[rows * cols];
        MemorySegment seg = MemorySegment.ofArray(packed);
        for (int r = 0; r < rows; r++) codec.dequantizeRow(seg, r * codec.rowBytes(cols), y, r * cols, cols);
        return y;
    }

    @ParameterizedTest
    @EnumSource(BlockGrid.class)
    void packedBlocksDecodeToTheSweepsValues(BlockGrid type) {
        float[] w = TestWeights.gaussian(11, ROWS * COLS, 0.04f);
        double[] h = hessian(TestWeights.correlatedInputs(12, TOKENS, COLS, 8), TOKENS, COLS);
        for (boolean actOrder : new boolean[] {false, true}) {
            GgmlGrid grid = new GgmlGrid(type.type(), true, ROWS, COLS);
            Gptq.sweep("w", w, ROWS, COLS, h, new GptqConfig.Options(0.01, 128, actOrder), grid, Linalg.kernels());
            float[] used = grid.values();
            float[] decoded = decode(type.type(), grid.packed(), ROWS, COLS);
            // bit for bit: the codes and (a, b) reproduce the dequantizer's own f32 arithmetic
            assertArrayEquals(used, decoded, type + " act-order " + actOrder);
        }
    }

    /** A diagonal Hessian pushes no error: each block is what the type's weighted search makes of the weights. */
    @ParameterizedTest
    @EnumSource(BlockGrid.class)
    void diagonalHessianIsTheTypesOwnSearch(BlockGrid type) {
        float[] w = TestWeights.gaussian(21, ROWS * COLS, 0.04f);
        double[] h = new double[COLS * COLS];
        float[] importance = new float[COLS];
        double mean = 0;
        for (int c = 0; c < COLS; c++) {
            h[c * COLS + c] = 0.5 + (c * 37 % 11);
            mean += h[c * COLS + c] / COLS;
        }
        for (int c = 0; c < COLS; c++) importance[c] = (float) (h[c * COLS + c] + 0.01 * mean);
        GgmlGrid grid = new GgmlGrid(type.type(), true, ROWS, COLS);
        Gptq.sweep("w", w, ROWS, COLS, h, OPTIONS, grid, Linalg.kernels());
        byte[] packed = grid.packed();

        BlockCodec codec = BlockCodecs.forType(type.type());
        long rowBytes = codec.rowBytes(COLS);
        byte[] search = new byte[Math.toIntExact(ROWS * rowBytes)];
        MemorySegment seg = MemorySegment.ofArray(search);
        for (int r = 0; r < ROWS; r++) GgmlSearches.forType(type.type()).quantizeRow(w, r * COLS, COLS, importance, seg, r * rowBytes);
        if (type.type().blockSize() == 256) {
            // the k-quants end with the same rounding from the stored scales: identical bytes
            assertArrayEquals(search, packed, type.toString());
        } else {
            // the legacy types round with their own expressions (x·(1/d) + 8.5 truncated …): same block headers,
            // and every code the sweep chose is a nearest grid point
            float[] mine = decode(type.type(), packed, ROWS, COLS), theirs = decode(type.type(), search, ROWS, COLS);
            int headerBytes = switch (type) {
                case Q8_0, Q4_0, Q5_0 -> 2;
                default -> 4;
            };
            for (int i = 0; i < packed.length; i += type.type().typeSize()) {
                assertArrayEquals(Arrays.copyOfRange(search, i, i + headerBytes), Arrays.copyOfRange(packed, i, i + headerBytes));
            }
            for (int i = 0; i < mine.length; i++) {
                assertTrue(Math.abs(mine[i] - w[i]) <= Math.abs(theirs[i] - w[i]) * (1 + 1e-6f) + 1e-9f,
                        type + " element " + i + ": " + mine[i] + " vs " + theirs[i] + " for " + w[i]);
            }
        }
    }

    /** On correlated inputs, error feedback beats the weighted search alone on the layer-output error. */
    @ParameterizedTest
    @EnumSource(value = BlockGrid.class, names = {"Q4_0", "Q4_1", "Q2_K", "Q3_K", "Q4_K", "Q6_K"})
    void errorFeedbackBeatsTheSearchAlone(BlockGrid type) {
        float[] w = TestWeights.gaussian(31, ROWS * COLS, 0.04f);
        double[] h = hessian(TestWeights.correlatedInputs(32, TOKENS, COLS, 8), TOKENS, COLS);
        GgmlGrid grid = new GgmlGrid(type.type(), true, ROWS, COLS);
        Gptq.sweep("w", w, ROWS, COLS, h, OPTIONS, grid, Linalg.kernels());
        float[] gptq = decode(type.type(), grid.packed(), ROWS, COLS);

        BlockCodec codec = BlockCodecs.forType(type.type());
        float[] importance = new float[COLS];
        for (int c = 0; c < COLS; c++) importance[c] = (float) h[c * COLS + c];
        long rowBytes = codec.rowBytes(COLS);
        byte[] search = new byte[Math.toIntExact(ROWS * rowBytes)];
        for (int r = 0; r < ROWS; r++) GgmlSearches.forType(type.type()).quantizeRow(w, r * COLS, COLS, importance, MemorySegment.ofArray(search), r * rowBytes);
        double eGptq = outputError(w, gptq, h, ROWS, COLS);
        double eSearch = outputError(w, decode(type.type(), search, ROWS, COLS), h, ROWS, COLS);
        assertTrue(eGptq < 0.9 * eSearch, type + ": GPTQ " + eGptq + " vs weighted search " + eSearch);
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"IQ4_NL", "TQ2_0", "F16"})
    void refusesTypesWithoutAnIntegerGrid(GgmlType type) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new GgmlGrid(type, true, 2, 256));
        assertTrue(e.getMessage().contains(type.name()), e.getMessage());
        assertEquals(null, BlockGrid.of(type));
    }
}
