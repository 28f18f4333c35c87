package dev.lowbit.ptq.onnx;

/** ORT's Percentile calibrator, symmetric (its default): see {@link RangeCalibrator}. */
public final class Percentile extends HistogramCalibrator {
    private final double percentile;

    public Percentile(int bins, double percentile) {
        super(bins);
        if (bins < 1 || !(percentile >= 0 && percentile <= 100)) throw new IllegalArgumentException("bins ≥ 1, 0 ≤ percentile ≤ 100");
        this.percentile = percentile;
    }

    @Override
    public double[] range() {
        float[] a = all();
        int n = a.length;
        if (n == 0) return new double[]{0, 0};
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY, amin = Double.POSITIVE_INFINITY, amax = 0;
        float[] abs = new float[n];
        for (int i = 0; i < n; i++) {
            min = Math.min(min, a[i]);
            max = Math.max(max, a[i]);
            abs[i] = Math.abs(a[i]);
            amin = Math.min(amin, abs[i]);
            amax = Math.max(amax, abs[i]);
        }
        Histogram h = Histogram.of(abs, n, bins, amin, amax);
        // np.searchsorted(cdf, p) (side 'left'): the first index whose cumulative share reaches p
        double target = percentile / 100.0, total = n, cum = 0;
        int idx = h.counts.length;
        for (int i = 0; i < h.counts.length; i++) {
            cum += h.counts[i] / total;
            if (cum >= target) {
                idx = i;
                break;
            }
        }
        double t = (float) h.edges[idx]; // ORT casts the edges to the tensor's float32
        double lo = -t, hi = t;
        if (lo < min) lo = min;
        if (hi > max) hi = max;
        return new double[]{lo, hi};
    }
}
