package dev.lowbit.ptq.onnx;

/** ORT's MinMax calibrator (no moving average): the observed minimum and maximum over all batches. */
public final class MinMax implements RangeCalibrator {
    private double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
    private long count;

    @Override
    public synchronized void add(float[] x, int rows, int cols) {
        RangeCalibrator.checkFinite(x);
        for (float v : x) {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        count += rows;
    }

    @Override
    public synchronized long tokens() {
        return count;
    }

    @Override
    public synchronized double[] range() {
        if (count == 0 || min > max) return new double[]{0, 0};
        return new double[]{min, max};
    }
}
