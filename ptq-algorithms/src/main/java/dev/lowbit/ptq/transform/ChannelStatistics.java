package dev.lowbit.ptq.transform;

/**
 * Statistics of one Linear input over the calibration tokens, as the fp layer (after the earlier layers were
 * transformed and quantized) sees them. Fields a transform did not ask for ({@link WeightTransform#statistics()})
 * are {@code null}.
 *
 * @param tokens     tokens observed
 * @param meanAbs    per input channel mean |x|, or null
 * @param maxAbs     per input channel max |x|, or null
 * @param meanSquare per input channel mean x², or null
 * @param hessian    Σ x·xᵀ (in × in, row-major), or null
 * @param groupGram  the diagonal group blocks of Σ x·xᵀ ({@link Statistic#GROUP_GRAM}), or null
 */
public record ChannelStatistics(long tokens, double[] meanAbs, double[] maxAbs, double[] meanSquare, double[] hessian,
                                double[] groupGram) {}
