package dev.lowbit.pipeline.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.calib.onnx.OrtRunner;
import dev.lowbit.io.onnx.OnnxAttribute;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxGraph;
import dev.lowbit.io.onnx.OnnxModel;
import dev.lowbit.io.onnx.OnnxNode;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.onnx.OnnxValueInfo;
import dev.lowbit.ptq.onnx.BlockedSymmetric;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The opset-21 blocked DequantizeLinear as ONNX Runtime computes it, on lowbit's codes and scales (int4 packed two per
 * byte), equals code × scale at the element's block written out here from the spec, and stays within half a step
 * of the original weight.
 */
class BlockedQdqOrtTest {
    @ParameterizedTest(name = "dims {0} axis {1} block {2} bits {3}")
    @CsvSource({"6x40x3x3, 1, 16, 4", "6x40x3x3, 1, 32, 8", "200x24, 0, 32, 4", "200x24, 0, 64, 8", "24x200, 1, 16, 4"})
    void ortDequantizesLowbitsBlocksAsTheSpecSays(String shape, int axis, int block, int bits) {
        long[] dims = java.util.Arrays.stream(shape.split("x")).mapToLong(Long::parseLong).toArray();
        int n = (int) OnnxTensor.ofFloats("x", dims, new float[(int) java.util.Arrays.stream(dims).reduce(1, (a, b) -> a * b)]).elementCount();
        Random rnd = new Random(block * 31L + bits);
        float[] w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float) rnd.nextGaussian();
        BlockedSymmetric q = BlockedSymmetric.quantize(w, dims, axis, block, bits);
        OnnxTensor codes = bits == 8 ? OnnxTensor.ofBytes("q", OnnxDataType.INT8, dims, q.codes())
                : OnnxTensor.ofBytes("q", OnnxDataType.INT4, dims, q.packedInt4());
        OnnxGraph g = new OnnxGraph("dq", List.of(new OnnxNode("dq", "DequantizeLinear", "", List.of("q", "s"), List.of("y"),
                List.of(OnnxAttribute.ofInt("axis", axis), OnnxAttribute.ofInt("block_size", block)))),
                List.of(codes, OnnxTensor.ofFloats("s", q.scaleDims(), q.scales())), List.of(),
                List.of(new OnnxValueInfo("y", OnnxDataType.FLOAT, null, "")), List.of(), "");
        OnnxModel m = new OnnxModel(10, List.of(new OnnxModel.OpsetId("", 21)), "test", "", "", 0, "", g, List.of());
        float[] y;
        try (OrtRunner ort = OrtRunner.of(m, "dq", 1)) {
            y = ort.run(Map.of(), List.of("y")).get("y").floats();
        }
        long inner = 1;
        for (int i = axis + 1; i < dims.length; i++) inner *= dims[i];
        long blocks = (dims[axis] + block - 1) / block;
        int qmax = bits == 8 ? 127 : 7;
        for (int i = 0; i < n; i++) {
            long outer = i / (inner * dims[axis]), a = (i / inner) % dims[axis], in = i % inner;
            float s = q.scales()[(int) ((outer * blocks + a / block) * inner + in)];
            assertTrue(Math.abs(q.codes()[i]) <= qmax);
            assertEquals(q.codes()[i] * s, y[i], 0f, "element " + i);
            assertTrue(Math.abs(y[i] - w[i]) <= s / 2 * (1 + 1e-6f), "element " + i + " within half a step");
        }
    }
}
