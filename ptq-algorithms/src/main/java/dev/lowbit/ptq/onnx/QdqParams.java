package dev.lowbit.ptq.onnx;

/**
 * Scale and zero point of a QuantizeLinear / DequantizeLinear pair from a float range, as ORT's
 * {@code compute_scale_zp}: the range is widened to contain 0; symmetric → ±max(|rmin|, |rmax|) and zero point
 * (qmin + qmax)/2; scale = (rmax − rmin)/(qmax − qmin); zero point = round(qmin − rmin/scale) (half to even), and a
 * zero range gives scale 1, zero point the middle. int8: qmin −128 (−127 when symmetric), qmax 127.
 * QuantizeLinear itself: q = saturate(round_half_even(x / scale) + zp).
 */
public record QdqParams(float scale, int zeroPoint, int qmin, int qmax) {
    public static QdqParams int8(double rmin, double rmax, boolean symmetric) {
        int qmin = symmetric ? -127 : -128, qmax = 127;
        rmin = Math.min(rmin, 0);
        rmax = Math.max(rmax, 0);
        if (symmetric) {
            double m = Math.max(Math.abs(rmin), Math.abs(rmax));
            rmin = -m;
            rmax = m;
        }
        float scale = (float) ((rmax - rmin) / (qmax - qmin));
        if (!(scale > 0) || !Float.isFinite(scale)) return new QdqParams(1f, symmetric ? 0 : 0, qmin, qmax);
        int zp = symmetric ? (qmin + qmax) / 2 : (int) Math.rint(qmin - rmin / scale);
        zp = Math.max(qmin, Math.min(qmax, zp));
        return new QdqParams(scale, zp, qmin, qmax);
    }

    /** QuantizeLinear of one value. */
    public int quantize(float x) {
        double q = Math.rint(x / scale) + zeroPoint; // x / scale in f32, as ORT's kernels
        return (int) Math.max(qmin, Math.min(qmax, q));
    }

    /** DequantizeLinear of one code. */
    public float dequantize(int q) {
        return (q - zeroPoint) * scale;
    }
}
