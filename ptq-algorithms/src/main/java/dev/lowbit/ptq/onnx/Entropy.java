package dev.lowbit.ptq.onnx;

/** ORT's Entropy (KL) calibrator: see {@link RangeCalibrator}; the candidate loop is ORT's get_entropy_threshold. */
public final class Entropy extends HistogramCalibrator {
    private final int quantizedBins;

    public Entropy(int bins, int quantizedBins) {
        super(bins);
        if (bins < 1 || quantizedBins < 1) throw new IllegalArgumentException("bins and quantized bins must be ≥ 1");
        this.quantizedBins = quantizedBins;
    }

    @Override
    public double[] range() {
        float[] a = all();
        if (a.length == 0) return new double[]{0, 0};
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        for (float v : a) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        double m = (float) Math.max(Math.abs(min), Math.abs(max));
        Histogram h = Histogram.of(a, a.length, bins, -m, m);
        long[] hist = h.counts;
        int numBins = hist.length, zero = numBins / 2, half = quantizedBins / 2;
        double bestKl = Double.POSITIVE_INFINITY;
        double[] best = null;
        for (int i = half; i <= zero; i++) {
            int start = zero - i;
            int end = Math.min(zero + i + 1, numBins);
            double[] threshold = {h.edges[start], h.edges[end]};
            int size = end - start;
            long[] p = new long[size];
            System.arraycopy(hist, start, p, 0, size);
            for (int k = 0; k < start; k++) p[0] += hist[k];
            for (int k = end; k < numBins; k++) p[size - 1] += hist[k];
            long[] quantized = new long[quantizedBins];
            int merged = size / quantizedBins;
            for (int q = 0; q < quantizedBins; q++) {
                for (int k = q * merged; k < q * merged + merged; k++) quantized[q] += hist[start + k];
            }
            for (int k = quantizedBins * merged; k < size; k++) quantized[quantizedBins - 1] += hist[start + k];
            long[] q = new long[size];
            for (int b = 0; b < quantizedBins; b++) {
                int s = b * merged, e = s + merged;
                long norm = 0;
                for (int k = s; k < e; k++) if (p[k] != 0) norm++;
                if (norm != 0) {
                    long v = (long) ((double) quantized[b] / norm); // assigned into ORT's int64 array: truncated
                    for (int k = s; k < e; k++) q[k] = v;
                }
            }
            double[] ps = smooth(p), qs = smooth(q);
            double kl = ps == null || qs == null ? Double.POSITIVE_INFINITY : kl(ps, qs);
            if (kl < bestKl || best == null) {
                bestKl = kl;
                best = threshold;
            }
        }
        double lo = best[0], hi = best[1];
        if (lo < min) lo = min;
        if (hi > max) hi = max;
        return new double[]{lo, hi};
    }

    /** ORT's smooth_distribution (eps 1e-4): zeros get eps, non-zeros give it back; null when all are zero. */
    static double[] smooth(long[] p) {
        final double eps = 1e-4;
        int zeros = 0;
        for (long v : p) if (v == 0) zeros++;
        int nonzeros = p.length - zeros;
        if (nonzeros == 0) return null;
        double eps1 = eps * zeros / nonzeros;
        double[] out = new double[p.length];
        for (int i = 0; i < p.length; i++) out[i] = (float) ((float) p[i] + (p[i] == 0 ? eps : -eps1));
        return out;
    }

    /** scipy.stats.entropy(p, q): both normalised to sum 1, Σ p·ln(p/q). */
    static double kl(double[] p, double[] q) {
        double sp = 0, sq = 0;
        for (int i = 0; i < p.length; i++) {
            sp += p[i];
            sq += q[i];
        }
        double kl = 0;
        for (int i = 0; i < p.length; i++) {
            double pi = p[i] / sp, qi = q[i] / sq;
            if (pi > 0) kl += pi * Math.log(pi / qi);
            else if (pi < 0 || qi <= 0) return Double.POSITIVE_INFINITY;
        }
        return kl;
    }
}
