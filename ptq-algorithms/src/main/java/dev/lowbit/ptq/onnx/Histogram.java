package dev.lowbit.ptq.onnx;

/**
 * {@code numpy.histogram(a, bins, range)} with equal-width bins: edges = linspace(lo, hi, bins + 1) in f64; bins are
 * [e_i, e_i+1) except the last, which includes hi; a value's bin comes from (x − lo)·bins/(hi − lo) and is then
 * corrected against the edges, as NumPy does; lo == hi widens the range to (lo − 0.5, hi + 0.5).
 */
final class Histogram {
    final long[] counts;
    final double[] edges;

    private Histogram(long[] counts, double[] edges) {
        this.counts = counts;
        this.edges = edges;
    }

    static Histogram of(float[] a, int n, int bins, double lo, double hi) {
        if (lo == hi) {
            lo -= 0.5;
            hi += 0.5;
        }
        double[] edges = new double[bins + 1];
        double step = (hi - lo) / bins;
        for (int i = 0; i <= bins; i++) edges[i] = lo + i * step; // numpy.linspace: start + i·step, last = stop
        edges[bins] = hi;
        long[] counts = new long[bins];
        double norm = bins / (hi - lo);
        for (int k = 0; k < n; k++) {
            double x = a[k];
            if (x < lo || x > hi) continue;
            int i = (int) ((x - lo) * norm);
            if (i == bins) i--;
            if (x < edges[i]) i--;
            else if (i != bins - 1 && x >= edges[i + 1]) i++;
            counts[i]++;
        }
        return new Histogram(counts, edges);
    }
}
