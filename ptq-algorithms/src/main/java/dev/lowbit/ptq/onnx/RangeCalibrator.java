package dev.lowbit.ptq.onnx;

import dev.lowbit.ptq.observe.ActivationObserver;

/**
 * Chooses the float range [rmin, rmax] of one activation tensor for per-tensor quantization, from every value the
 * tensor took over the calibration inputs — ONNX Runtime's calibrators ({@code onnxruntime/quantization/calibrate.py}),
 * each with ORT's defaults:
 * <ul>
 *   <li>{@link MinMax}: the observed minimum and maximum;</li>
 *   <li>{@link Percentile}: symmetric; a 2048-bin histogram of |x| over [min|x|, max|x|]; t = the left edge of the
 *       first bin where the CDF reaches 99.999 %; range (−t, t) clipped to the observed [min, max];</li>
 *   <li>{@link Entropy}: a 128-bin histogram over [−m, m] (m = max |x|); for each candidate slice of bins around
 *       zero, KL(p‖q) between the slice with outliers folded into its end bins (p) and the slice merged into 128
 *       quantized bins spread back over p's non-empty bins (q, integer as ORT computes it), both smoothed (eps
 *       1e-4); the slice of least KL gives the range, clipped to the observed [min, max].</li>
 * </ul>
 * As in ORT, the histogram calibrators see all values at once (ORT concatenates the batches before its histogram).
 * The range is then made to contain 0 by {@link QdqParams}.
 */
public sealed interface RangeCalibrator extends ActivationObserver permits MinMax, HistogramCalibrator {
    /** The chosen range {rmin, rmax}; NaN never enters (NaN activations are refused when added). */
    double[] range();

    /** A calibrator by ORT's method name: minmax, percentile, entropy. */
    static RangeCalibrator of(String method) {
        return switch (method) {
            case "minmax" -> new MinMax();
            case "percentile" -> new Percentile(2048, 99.999);
            case "entropy" -> new Entropy(128, 128);
            default -> throw new IllegalArgumentException("unknown calibrator '" + method + "' (minmax, percentile, entropy)");
        };
    }

    @Override
    default int columns() {
        return -1; // per tensor: any layout
    }

    static void checkFinite(float[] x) {
        for (float v : x) if (!Float.isFinite(v)) throw new IllegalArgumentException("activation value " + v + " is not finite");
    }
}
