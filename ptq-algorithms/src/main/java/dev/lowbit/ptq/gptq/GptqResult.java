package dev.lowbit.ptq.gptq;

import dev.lowbit.io.quant.QuantizedTensor;

/**
 * What GPTQ produced for one weight.
 *
 * @param quantized the codes, scales, true zeros and g_idx (original column order)
 * @param loss      the reference's reported error Σ_r Σ_c (w − ŵ)² / Hinv[c,c]² / 2, summed in f64
 * @param timing    where the time went
 */
public record GptqResult(QuantizedTensor quantized, double loss, Timing timing) {

    /** Nanoseconds spent preparing (dead columns, static groups, permutation, damping), inverting H, and sweeping. */
    public record Timing(long prepareNanos, long inverseNanos, long sweepNanos) {
        public long totalNanos() {
            return prepareNanos + inverseNanos + sweepNanos;
        }

        @Override
        public String toString() {
            return String.format("prepare %.1f ms, Hinv %.1f ms, sweep %.1f ms, total %.1f ms",
                    prepareNanos / 1e6, inverseNanos / 1e6, sweepNanos / 1e6, totalNanos() / 1e6);
        }
    }
}
