package dev.lowbit.pipeline.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lowbit.calib.onnx.OrtRunner;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxGraph;
import dev.lowbit.io.onnx.OnnxModel;
import dev.lowbit.io.onnx.OnnxNode;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.onnx.OnnxValueInfo;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.onnx.BlockRtn;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * ONNX Runtime's own MatMulNBits kernel, run on lowbit's packed weights, equals a plain f32 MatMul with the weights
 * lowbit says the codes mean ({@link QuantizedTensor#dequantize}): the layout (nibble order, padding of a partial
 * block, zero-point packing, scale order) is checked by the runtime that consumes it, for RTN and GPTQ codes.
 */
class MatMulNBitsOrtTest {
    static OnnxModel matmul(OnnxTensor b) {
        OnnxGraph g = new OnnxGraph("g", List.of(new OnnxNode("mm", "MatMul", "", List.of("A", b.name()), List.of("Y"), List.of())),
                List.of(b), List.of(new OnnxValueInfo("A", OnnxDataType.FLOAT, List.of(OnnxValueInfo.Dim.of(3), OnnxValueInfo.Dim.of(b.dims()[0])), "")),
                List.of(new OnnxValueInfo("Y", OnnxDataType.FLOAT, null, "")), List.of(), "");
        return new OnnxModel(10, List.of(new OnnxModel.OpsetId("", 21)), "test", "", "", 0, "", g, List.of());
    }

    @ParameterizedTest(name = "bits {0} block {1} sym {2} {3}")
    @CsvSource({"4, 32, false, rtn", "4, 64, true, rtn", "4, 128, false, rtn", "8, 32, false, rtn", "8, 128, true, rtn", "4, 32, false, gptq"})
    void ortKernelEqualsMatMulOfTheDequantizedWeights(int bits, int block, boolean sym, String method) {
        // RTN: K = 200, a multiple of no block: a partial last block, zero-padded; GPTQ needs whole groups (K = 192)
        int k = method.equals("rtn") ? 200 : 192, n = 24;
        Random rnd = new Random(bits * 1000 + block);
        float[] w = new float[k * n];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        OnnxTensor b = OnnxTensor.ofFloats("B", new long[]{k, n}, w);
        float[] a = new float[3 * k];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        OnnxModel model = matmul(b);
        QuantTargets t = QuantTargets.of(model.graph());
        float[] wt = MatMulNBitsRewrite.transpose(b);
        QuantizedTensor q;
        if (method.equals("rtn")) {
            q = BlockRtn.quantize("B", wt, n, k, bits, block, sym);
        } else {
            double[] h = new double[k * k];
            for (int r = 0; r < 3; r++) for (int i = 0; i < k; i++) for (int j = 0; j < k; j++) h[i * k + j] += 2.0 / 3 * a[r * k + i] * a[r * k + j];
            q = Gptq.quantize("B", wt, n, k, h, GptqConfig.of(new QuantScheme(bits, block, sym))).quantized();
        }
        OnnxGraph nbits = MatMulNBitsRewrite.apply(model.graph(), MatMulNBitsRewrite.weights(t, model.graph()), Map.of("B", q), bits, block);
        OnnxModel quantized = model.withGraph(nbits).withOpset("com.microsoft", 1);
        float[] dq = q.dequantize(); // N × K
        float[] back = new float[k * n];
        for (int i = 0; i < k; i++) for (int j = 0; j < n; j++) back[i * n + j] = dq[j * k + i];
        OnnxModel reference = matmul(OnnxTensor.ofFloats("B", new long[]{k, n}, back));
        Map<String, OnnxTensor> feeds = Map.of("A", OnnxTensor.ofFloats("A", new long[]{3, k}, a));
        try (OrtRunner x = OrtRunner.of(quantized, "nbits", 1); OrtRunner y = OrtRunner.of(reference, "ref", 1)) {
            assertEquals("MatMulNBits", nbits.nodes().getFirst().opType());
            float[] got = x.run(feeds, List.of()).get("Y").floats(), want = y.run(feeds, List.of()).get("Y").floats();
            // same products, summed in another order by another kernel: f32 rounding of a 200-term sum of O(1)·O(1)
            // terms is ~200·2^-24·|terms| ≈ 1e-4 absolute; 1e-3 leaves room without hiding a wrong code or scale
            for (int i = 0; i < got.length; i++) assertEquals(want[i], got[i], 1e-3 + 1e-4 * Math.abs(want[i]), "output " + i);
        }
    }
}
