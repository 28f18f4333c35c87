package dev.lowbit.ptq.onnx;

/**
 * Symmetric int8 weights per channel along {@code axis}, as ORT's QDQ quantizer does with per_channel and its default
 * WeightSymmetric: per channel c, scale_c = max|w| / 127 (range −127..127, zero point 0), q = round_half_even(w /
 * scale_c) clamped; a channel of zeros gets scale 1.
 *
 * @param codes  int8 codes in the weight's layout
 * @param scales one per channel
 */
public record PerChannelInt8(byte[] codes, float[] scales) {
    /** Quantizes {@code w} (row-major, {@code dims}) per channel along {@code axis}. */
    public static PerChannelInt8 quantize(float[] w, long[] dims, int axis) {
        if (axis < 0 || axis >= dims.length) throw new IllegalArgumentException("axis " + axis + " outside rank " + dims.length);
        int channels = (int) dims[axis];
        long inner = 1;
        for (int i = axis + 1; i < dims.length; i++) inner *= dims[i];
        double[] max = new double[channels];
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) throw new IllegalArgumentException("weight value " + w[i] + " is not finite");
            int c = (int) ((i / inner) % channels);
            max[c] = Math.max(max[c], Math.abs(w[i]));
        }
        float[] scales = new float[channels];
        QdqParams[] p = new QdqParams[channels];
        for (int c = 0; c < channels; c++) {
            p[c] = QdqParams.int8(-max[c], max[c], true);
            scales[c] = p[c].scale();
        }
        byte[] codes = new byte[w.length];
        for (int i = 0; i < w.length; i++) codes[i] = (byte) p[(int) ((i / inner) % channels)].quantize(w[i]);
        return new PerChannelInt8(codes, scales);
    }
}
