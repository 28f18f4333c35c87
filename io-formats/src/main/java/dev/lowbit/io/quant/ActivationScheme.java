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
 * FLOAT (FP8 E4M3, bits = 8) uses the same scales with {@code qmax} = 448 (E4M3's largest finite value) and rounds
 * {@code x / s} to the nearest E4M3 value (ties to even) instead of the nearest integer: llm-compressor's FP8_DYNAMIC
 * activations with strategy TOKEN.
 */
public record ActivationScheme(Type type, int bits, Strategy strategy, boolean dynamic) {
    public enum Type { INT, FLOAT }

    public enum Strategy { TOKEN, TENSOR }

    public ActivationScheme {
        if (type == Type.INT && (bits < 2 || bits > 8)) throw new IllegalArgumentException("integer activations take 2..8 bits, not " + bits);
        if (type == Type.FLOAT && bits != 8) throw new IllegalArgumentException("float activations are FP8 E4M3 (8 bits), not " + bits + " bits");
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

    public static ActivationScheme fp8PerToken() {
        return new ActivationScheme(Type.FLOAT, 8, Strategy.TOKEN, true);
    }

    /**
     * The scheme a name gives: {@code intN-token}, {@code intN-tensor} (static), {@code intN-tensor-dynamic} with N in
     * 2..8, or the same three with {@code fp8} (E4M3); null for any other name.
     */
    public static ActivationScheme named(String name) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(int([2-8])|fp8)-(token|tensor|tensor-dynamic)").matcher(name);
        if (!m.matches()) return null;
        Type type = m.group(2) == null ? Type.FLOAT : Type.INT;
        int bits = m.group(2) == null ? 8 : Integer.parseInt(m.group(2));
        return switch (m.group(3)) {
            case "token" -> new ActivationScheme(type, bits, Strategy.TOKEN, true);
            case "tensor" -> new ActivationScheme(type, bits, Strategy.TENSOR, false);
            default -> new ActivationScheme(type, bits, Strategy.TENSOR, true);
        };
    }

    /** The inverse of {@link #named}. */
    public String name() {
        return (type == Type.FLOAT ? "fp8" : "int" + bits) + "-" + strategy.name().toLowerCase(Locale.ROOT)
                + (strategy == Strategy.TENSOR && dynamic ? "-dynamic" : "");
    }

    /** The largest code magnitude a scale maps max |x| to: 2^(bits−1) − 1, or 448 for FP8 E4M3. */
    public int qmax() {
        return type == Type.FLOAT ? 448 : (1 << (bits - 1)) - 1;
    }

    @Override
    public String toString() {
        return "a" + bits + (type == Type.FLOAT ? " fp8" : "") + " " + strategy.name().toLowerCase(Locale.ROOT) + (dynamic ? " dynamic" : " static");
    }
}
