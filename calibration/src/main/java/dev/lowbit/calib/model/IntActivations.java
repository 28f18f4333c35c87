package dev.lowbit.calib.model;

import ai.djl.ndarray.NDArray;
import dev.lowbit.io.quant.ActivationScheme;

/**
 * Symmetric integer fake-quantization of Linear inputs, as {@link ActivationScheme} defines it:
 * {@code x̂ = clamp(round(x/s), −qmax−1, qmax)·s}, round half to even (torch.round), with s per token (max |x_t| /
 * qmax), per tensor from the input itself (dynamic), or per tensor from {@code staticScales} (static). A zero
 * row or tensor keeps s = 0 and maps to 0.
 */
public final class IntActivations implements ActivationQuantizer {
    /** A static per-tensor scale per layer and input (from calibration or the checkpoint's {@code input_scale}). */
    @FunctionalInterface
    public interface StaticScales {
        float scale(int layer, LinearInput input);
    }

    private final ActivationScheme scheme;
    private final StaticScales scales;

    public IntActivations(ActivationScheme scheme, StaticScales scales) {
        if (scheme.type() != ActivationScheme.Type.INT) throw new IllegalArgumentException("not an integer scheme: " + scheme);
        if (!scheme.dynamic() && scales == null) throw new IllegalArgumentException("static activations need scales");
        this.scheme = scheme;
        this.scales = scales;
    }

    public static IntActivations dynamic(ActivationScheme scheme) {
        return new IntActivations(scheme, null);
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
        // s = 0 (an all-zero row): divide by 1 instead, the codes are 0 anyway
        NDArray safe = s.add(s.eq(0).toType(ai.djl.ndarray.types.DataType.FLOAT32, false));
        return x.div(safe).round().clip(-qmax - 1, qmax).mul(s);
    }
}
