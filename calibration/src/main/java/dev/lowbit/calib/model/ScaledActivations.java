package dev.lowbit.calib.model;

import ai.djl.ndarray.NDArray;
import dev.lowbit.io.quant.ActivationScheme;

/**
 * Symmetric fake-quantization of Linear inputs, as {@link ActivationScheme} defines it, with s per token (max |x_t| /
 * qmax), per tensor from the input itself (dynamic), or per tensor from {@code staticScales} (static):
 * <ul>
 *   <li>INT: {@code x̂ = clamp(round(x/s), −qmax−1, qmax)·s}, round half to even (torch.round);</li>
 *   <li>FLOAT (FP8 E4M3, qmax = 448): {@code v = clamp(x/s, −448, 448)}, rounded to the nearest E4M3 value, ties to
 *       even: within the binade of |v| (exponent e = max(⌊log2 |v|⌋, −6), E4M3's smallest normal exponent; below it
 *       the subnormal spacing 2^−9) the spacing is 2^(e−3), so {@code v̂ = round(v / 2^(e−3))·2^(e−3)}; a value that
 *       rounds up to the next power of two lands on it exactly.</li>
 * </ul>
 * A zero row or tensor keeps s = 0 and maps to 0. With a clip ratio c &lt; 1 ({@link #withClip}) every scale is c times
 * the one above, so the largest |x| clamp to the grid's ends (QuaRot quantizes activations with c = 0.9).
 */
public final class ScaledActivations implements ActivationQuantizer {
    /** A static per-tensor scale per layer and input (from calibration or the checkpoint's {@code input_scale}). */
    @FunctionalInterface
    public interface StaticScales {
        float scale(int layer, LinearInput input);
    }

    private final ActivationScheme scheme;
    private final StaticScales scales;
    private final float clip;

    public ScaledActivations(ActivationScheme scheme, StaticScales scales) {
        this(scheme, scales, 1f);
    }

    private ScaledActivations(ActivationScheme scheme, StaticScales scales, float clip) {
        if (!scheme.dynamic() && scales == null) throw new IllegalArgumentException("static activations need scales");
        if (!(clip > 0 && clip <= 1)) throw new IllegalArgumentException("clip ratio must be in (0, 1], got " + clip);
        this.scheme = scheme;
        this.scales = scales;
        this.clip = clip;
    }

    /** This quantizer with every scale multiplied by {@code clip} in (0, 1]. */
    public ScaledActivations withClip(float clip) {
        return new ScaledActivations(scheme, scales, clip);
    }

    public static ScaledActivations dynamic(ActivationScheme scheme) {
        return new ScaledActivations(scheme, null);
    }

    public ActivationScheme scheme() {
        return scheme;
    }

    @Override
    public NDArray apply(int layer, LinearInput input, NDArray x) {
        int qmax = scheme.qmax();
        NDArray s;
        if (scheme.strategy() == ActivationScheme.Strategy.TOKEN) {
            s = x.abs().max(new int[] {-1}, true).div(qmax);
        } else if (scheme.dynamic()) {
            s = x.abs().max().div(qmax);
        } else {
            float v = scales.scale(layer, input);
            if (!(v >= 0) || !Float.isFinite(v)) throw new IllegalArgumentException("layer " + layer + " " + input + ": activation scale " + v);
            s = x.getManager().create(v);
        }
        if (clip != 1f) s = s.mul(clip);
        // s = 0 (an all-zero row): divide by 1 instead, the codes are 0 anyway
        NDArray safe = s.add(s.eq(0).toType(ai.djl.ndarray.types.DataType.FLOAT32, false));
        NDArray v = x.div(safe);
        NDArray q = scheme.type() == ActivationScheme.Type.FLOAT ? roundE4m3(v.clip(-qmax, qmax)) : v.round().clip(-qmax - 1, qmax);
        return q.mul(s);
    }

    /** Each element of v (|v| ≤ 448) rounded to the nearest FP8 E4M3 value, ties to even (see the class comment). */
    static NDArray roundE4m3(NDArray v) {
        NDArray e = v.abs().maximum(0x1p-6f).log2().floor();
        NDArray step = v.getManager().create(2f).pow(e.sub(3));
        return v.div(step).round().mul(step);
    }
}
