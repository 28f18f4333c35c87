package dev.lowbit.ptq;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.gptq.GptqResult;
import dev.lowbit.ptq.observe.HessianObserver;
import dev.lowbit.ptq.rtn.Rtn;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Time breakdown of GPTQ on one real tiny-llama-code matrix (mlp.up_proj, 1536 × 512) with a Hessian from 32
 * random correlated 512-token "sequences". Not part of the suite: run with
 * {@code ./mvnw -q -o -pl ptq-algorithms -am test -Dtest=GptqTimingTest -Dsurefire.failIfNoSpecifiedTests=false -Dlowbit.timing=true}.
 */
class GptqTimingTest {
    @Test
    @EnabledIfSystemProperty(named = "lowbit.timing", matches = "true")
    void timeOneMatrix() {
        String name = "model.layers.0.mlp.up_proj.weight";
        int rows = 1536, cols = 512, seqs = 32, tokens = 512;
        long t0 = System.nanoTime();
        float[] w = TestWeights.real(name);
        long t1 = System.nanoTime();
        float[] x = TestWeights.correlatedInputs(1, seqs * tokens, cols, 10);
        long t2 = System.nanoTime();
        HessianObserver obs = new HessianObserver(cols);
        for (int s = 0; s < seqs; s++) obs.add(Arrays.copyOfRange(x, s * tokens * cols, (s + 1) * tokens * cols), tokens, cols);
        double[] h = obs.hessian();
        long t3 = System.nanoTime();
        System.out.printf("load+decode %s: %.1f ms; inputs: %.1f ms; HessianObserver %d × %d×%d (%.2f GFLOP): %.1f ms%n",
                name, (t1 - t0) / 1e6, (t2 - t1) / 1e6, seqs, tokens, cols, seqs * (double) tokens * cols * cols / 1e9, (t3 - t2) / 1e6);
        QuantScheme s = new QuantScheme(4, 128, false);
        for (int run = 0; run < 5; run++) {
            long r0 = System.nanoTime();
            Rtn.rtn(name, w, rows, cols, s);
            long r1 = System.nanoTime();
            GptqResult g = Gptq.quantize(name, w, rows, cols, h, GptqConfig.of(s));
            GptqResult a = Gptq.quantize(name, w, rows, cols, h, GptqConfig.of(s).withActOrder(true, false));
            System.out.printf("run %d: RTN %.1f ms | GPTQ %s, %s: %s, loss %.2f | act-order: %s%n", run, (r1 - r0) / 1e6,
                    s, "block 128", g.timing(), g.loss(), a.timing());
        }
    }
}
