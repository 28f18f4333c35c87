package dev.lowbit.io.ct;

import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.io.quant.QuantScheme.ScaleType;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;

/**
 * Codec between {@link QuantizedTensor} and the compressed-tensors floating-point formats, N = out_features,
 * K = in_features:
 * <ul>
 *   <li>{@code nvfp4-pack-quantized}: {@code weight_packed} u8 {@code [N, K/2]} (element 2i in the low nibble, 2i+1 in
 *       the high one; a nibble is E2M1 magnitude index | sign &lt;&lt; 3), {@code weight_scale} F8_E4M3
 *       {@code [N, K/16]}, {@code weight_global_scale} F32 {@code [1]} = G; x = v · s / G.</li>
 *   <li>{@code mxfp4-pack-quantized}: the same packing, {@code weight_scale} U8 E8M0 {@code [N, K/32]}, x = v · 2^(e−127).</li>
 *   <li>{@code float-quantized} (FP8): {@code weight} F8_E4M3 (or F8_E5M2) {@code [N, K]}, {@code weight_scale} F32
 *       {@code [N, 1]}; x = v · s.</li>
 * </ul>
 * Packing is exact: every scale must already be a value of its storage type (an E4M3 value, a power of two), and
 * NVFP4's in-memory global scale 1/G must be the f32 reciprocal of a G whose reciprocal gives it back, so that the file
 * decodes through {@link #unpack} to exactly the tensor packed.
 */
public final class CtFloatPacking {
    private CtFloatPacking() {}

    /** The compressed-tensors {@code format} of a float scheme, or null when compressed-tensors has none lowbit writes. */
    public static String format(QuantScheme s) {
        if (s.element() == ElementType.E2M1 && s.scaleType() == ScaleType.E4M3 && FloatSchemes.blockSize(s) == 16) return "nvfp4-pack-quantized";
        if (s.element() == ElementType.E2M1 && s.scaleType() == ScaleType.E8M0 && FloatSchemes.blockSize(s) == 32) return "mxfp4-pack-quantized";
        if ((s.element() == ElementType.E4M3 || s.element() == ElementType.E5M2) && s.scaleType() == ScaleType.F32
                && FloatSchemes.blockSize(s) == -1) {
            return "float-quantized";
        }
        return null;
    }

    /**
     * The tensors of one Linear.
     *
     * @param weight      packed nibbles {@code [N, K/2]} (FP4) or one code byte per element {@code [N, K]} (FP8)
     * @param scaleBytes  E4M3 / E8M0 scale bytes {@code [N, K/block]} (FP4), else null
     * @param scaleF32    per-row f32 scales {@code [N, 1]} (FP8), else null
     * @param globalScale G (NVFP4), else NaN
     */
    public record Tensors(String format, int outFeatures, int inFeatures, byte[] weight, byte[] scaleBytes, float[] scaleF32,
                          float globalScale) {
        public int groups() {
            return scaleBytes == null ? 1 : scaleBytes.length / outFeatures;
        }
    }

    public static Tensors pack(QuantizedTensor q) {
        QuantScheme s = q.scheme();
        String format = format(s);
        if (format == null) throw new IllegalArgumentException(q.name() + ": compressed-tensors has no format lowbit writes for " + s);
        int n = q.rows(), k = q.cols();
        byte[] codes = q.codes();
        if (format.equals("float-quantized")) {
            if (q.globalScale() != 1f) throw new IllegalArgumentException(q.name() + ": FP8 per channel has no global scale");
            return new Tensors(format, n, k, codes.clone(), null, q.scales().clone(), Float.NaN);
        }
        int block = FloatSchemes.blockSize(s);
        if (k % block != 0) throw new IllegalArgumentException(q.name() + ": in_features " + k + " is not a multiple of " + block);
        for (int c = 0; c < k; c++) {
            if (q.gIdx()[c] != c / block) throw new IllegalArgumentException(q.name() + ": " + format + " has no g_idx (column " + c + " in group " + q.gIdx()[c] + ")");
        }
        byte[] packed = new byte[n * k / 2];
        for (int i = 0; i < packed.length; i++) packed[i] = (byte) ((codes[2 * i] & 0xF) | (codes[2 * i + 1] & 0xF) << 4);
        float[] scales = q.scales();
        byte[] sb = new byte[scales.length];
        for (int i = 0; i < scales.length; i++) {
            float v = scales[i];
            int b;
            if (s.scaleType() == ScaleType.E4M3) {
                b = FloatFormats.f32ToE4m3(v) & 0xFF;
                if (FloatFormats.e4m3ToF32((byte) b) != v || v < 0) {
                    throw new IllegalArgumentException(q.name() + ": block scale " + v + " (row " + i / (k / block) + ") is not an E4M3 value");
                }
            } else {
                int e = Math.getExponent(v);
                if (!(v > 0) || Float.isInfinite(v) || v != Math.scalb(1f, e)) {
                    throw new IllegalArgumentException(q.name() + ": block scale " + v + " (row " + i / (k / block) + ") is not a power of two");
                }
                b = FloatFormats.e8m0OfExponent(e);
            }
            sb[i] = (byte) b;
        }
        float g = Float.NaN;
        if (format.equals("nvfp4-pack-quantized")) {
            g = globalScaleOf(q.name(), q.globalScale());
        } else if (q.globalScale() != 1f) {
            throw new IllegalArgumentException(q.name() + ": MXFP4 has no global scale");
        }
        return new Tensors(format, n, k, packed, sb, null, g);
    }

    /** G with 1/G == {@code inverse} in f32, for writing {@code weight_global_scale}; refused when none round trips. */
    public static float globalScaleOf(String name, float inverse) {
        float g = 1f / inverse;
        if (!(g > 0) || !Float.isFinite(g) || 1f / g != inverse) {
            throw new IllegalArgumentException(name + ": global scale " + inverse + " has no f32 reciprocal that gives it back");
        }
        return g;
    }

    /** The in-memory global scale 1/G of a written {@code weight_global_scale} G. */
    public static float inverseGlobalScale(String name, float g) {
        if (!(g > 0) || !Float.isFinite(g)) throw new IllegalArgumentException(name + ": weight_global_scale " + g + " is not a positive finite number");
        return 1f / g;
    }

    /** Unpacks tensors read from a checkpoint onto {@code scheme} (from the config group). */
    public static QuantizedTensor unpack(String name, Tensors t, QuantScheme scheme) {
        String format = format(scheme);
        if (!t.format().equals(format)) throw new IllegalArgumentException(name + ": tensors are " + t.format() + " but the scheme is " + format);
        int n = t.outFeatures(), k = t.inFeatures();
        int[] gIdx = new int[k];
        if (format.equals("float-quantized")) {
            if (t.weight().length != (long) n * k || t.scaleF32().length != n) throw new IllegalArgumentException(name + ": FP8 tensor sizes do not match [" + n + ", " + k + "]");
            for (int i = 0; i < n; i++) {
                if (!(t.scaleF32()[i] >= 0) || !Float.isFinite(t.scaleF32()[i])) throw new IllegalArgumentException(name + ": weight_scale row " + i + " is " + t.scaleF32()[i]);
            }
            return new QuantizedTensor(name, n, k, scheme, java.util.List.of(new QuantizedTensor.Plane(t.weight().clone(), t.scaleF32().clone(), null, null, null)), gIdx, 1f);
        }
        int block = FloatSchemes.blockSize(scheme);
        if (k % block != 0) throw new IllegalArgumentException(name + ": in_features " + k + " is not a multiple of " + block);
        int groups = k / block;
        if (t.weight().length != (long) n * k / 2) throw new IllegalArgumentException(name + ": weight_packed has " + t.weight().length + " bytes, expected [" + n + ", " + k / 2 + "]");
        if (t.scaleBytes().length != (long) n * groups) throw new IllegalArgumentException(name + ": weight_scale has " + t.scaleBytes().length + " values, expected [" + n + ", " + groups + "]");
        for (int c = 0; c < k; c++) gIdx[c] = c / block;
        byte[] codes = new byte[n * k];
        for (int i = 0; i < t.weight().length; i++) {
            codes[2 * i] = (byte) (t.weight()[i] & 0xF);
            codes[2 * i + 1] = (byte) ((t.weight()[i] >>> 4) & 0xF);
        }
        float[] scales = new float[n * groups];
        for (int i = 0; i < scales.length; i++) {
            int b = t.scaleBytes()[i] & 0xFF;
            float v = scheme.scaleType() == ScaleType.E4M3 ? FloatFormats.e4m3ToF32((byte) b) : FloatFormats.e8m0ToF32(b);
            if (!(v >= 0) || Float.isNaN(v)) {
                throw new IllegalArgumentException(name + ": weight_scale row " + i / groups + ", block " + i % groups + " is " + v + " (byte 0x" + Integer.toHexString(b) + ")");
            }
            scales[i] = v;
        }
        float inv = format.equals("nvfp4-pack-quantized") ? inverseGlobalScale(name, t.globalScale()) : 1f;
        return new QuantizedTensor(name, n, k, scheme, java.util.List.of(new QuantizedTensor.Plane(codes, scales, null, null, null)), gIdx, inv);
    }
}
