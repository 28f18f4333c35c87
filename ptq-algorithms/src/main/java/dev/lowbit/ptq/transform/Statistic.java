package dev.lowbit.ptq.transform;

/**
 * What a transform may ask calibration to accumulate for the input of every Linear of a layer (one set per distinct
 * input: q/k/v share theirs, gate/up theirs; see {@link LayerContext#statistics}). Every statistic is over all tokens
 * of the calibration windows, per input channel c.
 */
public enum Statistic {
    /** mean over tokens of |x[c]| (AWQ's activation salience). */
    MEAN_ABS,
    /** max over tokens of |x[c]| (SmoothQuant's activation range). */
    MAX_ABS,
    /** mean over tokens of x[c]² (llama.cpp's importance matrix). */
    MEAN_SQUARE,
    /** Σ over tokens of x·xᵀ, in×in, accumulated in f64 (GPTQ's Hessian without its 2/n factor). */
    HESSIAN,
    /**
     * The diagonal blocks of Σ x·xᵀ for groups of {@link WeightTransform#gramGroup()} channels, in f64, as
     * {@code dev.lowbit.ptq.observe.GroupGramObserver} lays them out (a per-group search's whole need, n·G values
     * instead of n²).
     */
    GROUP_GRAM
}
