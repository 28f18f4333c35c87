package dev.lowbit.ptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.gptq.GptqResult;
import dev.lowbit.ptq.observe.HessianObserver;
import dev.lowbit.ptq.observe.PackedSymmetric;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Gptq#quantizeConsuming} works in the caller's Hessian triangle ({@link PackedSymmetric}) and weights instead
 * of copies (the pipeline's memory bound at 7B): it must give the same bits as {@link Gptq#quantize} on the whole
 * matrix, which leaves its inputs alone, and it must really have used the arrays it was given (else the saving is not
 * there); given a whole matrix, it works in the weights only. Width 320 in groups of 64, three sweep blocks (128, 128, 64), act-order
 * on and off, a dead input column.
 */
class GptqConsumingTest {
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void consumingGivesTheSameBitsAsCopying(boolean actOrder) {
        int rows = 19, cols = 320;
        SplittableRandom rnd = new SplittableRandom(5);
        float[] x = new float[300 * cols];
        for (int i = 0; i < x.length; i++) x[i] = i % cols == 11 ? 0f : (float) (rnd.nextGaussian() * (1 + (i % cols) / 40.0));
        HessianObserver obs = new HessianObserver(cols);
        obs.add(x, 300, cols);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian() * 0.05f;
        GptqConfig config = new GptqConfig(new QuantScheme(4, 64, false), 0.01, 128, actOrder, false, null, null);

        float[] wCopy = w.clone();
        double[] h = obs.sum();
        GptqResult copying = Gptq.quantize("t", w, rows, cols, h, config, Linalg.kernels());
        assertArrayEquals(wCopy, w, "quantize leaves the weights alone");
        assertArrayEquals(obs.sum(), h, "quantize leaves the Hessian alone");

        PackedSymmetric mine = obs.packedSum();
        GptqResult consuming = Gptq.quantizeConsuming("t", w, rows, cols, mine, config);
        QuantizedTensor a = copying.quantized(), b = consuming.quantized();
        assertArrayEquals(a.codes(), b.codes());
        assertArrayEquals(a.scales(), b.scales());
        assertArrayEquals(a.zeros(), b.zeros());
        assertEquals(copying.loss(), consuming.loss());
        assertFalse(Arrays.equals(wCopy, w), "the weights were worked in");
        assertFalse(Arrays.equals(obs.packedSum().upper(), mine.upper()), "the Hessian was worked in");

        float[] w2 = wCopy.clone();
        double[] whole = obs.sum();
        GptqResult fromWhole = Gptq.quantizeConsuming("t", w2, rows, cols, whole, config);
        assertArrayEquals(a.codes(), fromWhole.quantized().codes());
        assertEquals(copying.loss(), fromWhole.loss());
        assertArrayEquals(obs.sum(), whole, "a whole matrix is read, not worked in");
    }
}
