package dev.lowbit.io.quant;

import java.util.Locale;

/**
 * How the input of a Linear is quantized at run time (W8A8, W4A8 …): plain data, as a checkpoint's config declares
 * it (compressed-tensors {@code input_activations}) or as an experiment asks for it. Symmetric only:
 * <pre>
 *   x̂ = clamp(round(x / s), −qmax − 1, qmax) · s,   qmax = 2^(bits−1) − 1
 *   TOKEN (dynamic):  s = max_j |x[t, j]| / qmax per token row t
 *   TENSOR static:    s = the stored scale (calibration max |x| / qmax)
 *   TENSOR dynamic:   s = max |x| / qmax over the whole input
 * </pre>
 * An FP8 mode is one more {@link Type}: the runtime's quantizer switches on it.
 */
public record ActivationScheme(Type type, int bits, Strategy strategy, boolean dynamic) {
    public enum Type { INT }

    public enum Strategy { TOKEN, TENSOR }

    public ActivationScheme {
        if (type == Type.INT && (bits < 2 || bits > 8)) throw new IllegalArgumentException("integer activations take 2..8 bits, not " + bits);
        if (strategy == Strategy.TOKEN && !dynamic) {
            throw new IllegalArgumentException("per-token activation scales are dynamic (no static scale exists per token)");
        }
    }

    public static ActivationScheme intPerToken(int bits) {
        return new ActivationScheme(Type.INT, bits, Strategy.TOKEN, true);
    }

    public static ActivationScheme intStaticPerTensor(int bits) {
        return new ActivationScheme(Type.INT, bits, Strategy.TENSOR, false);
    }

    public int qmax() {
        return (1 << (bits - 1)) - 1;
    }

    @Override
    public String toString() {
        return "a" + bits + " " + strategy.name().toLowerCase(Locale.ROOT) + (dynamic ? " dynamic" : " static");
    }
}
