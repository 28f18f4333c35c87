package dev.lowbit.ptq.onnx;

/**
 * The calibrators that histogram every value a tensor took ({@link Percentile}, {@link Entropy}): as ORT does, they
 * keep all batches ({@link Values}) and choose the range once, in {@link #range()}. Non-finite activations are refused.
 */
abstract sealed class HistogramCalibrator implements RangeCalibrator permits Percentile, Entropy {
    /** Histogram bins. */
    protected final int bins;
    private final Values values = new Values();

    HistogramCalibrator(int bins) {
        this.bins = bins;
    }

    @Override
    public final void add(float[] x, int rows, int cols) {
        RangeCalibrator.checkFinite(x);
        values.add(x, rows);
    }

    @Override
    public final long tokens() {
        return values.rows();
    }

    /** Every value added so far, in order (a fresh array). */
    protected final float[] all() {
        return values.all();
    }
}
