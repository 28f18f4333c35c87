package dev.lowbit.io.quant;

import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.io.quant.QuantScheme.Granularity;
import dev.lowbit.io.quant.QuantScheme.ScaleType;
import dev.lowbit.io.quant.QuantScheme.ZeroPoint;
import dev.lowbit.kernels.FloatFormats;
import java.util.List;

/**
 * The floating-point weight schemes, as {@link QuantScheme}s, and their element codes.
 *
 * <ul>
 *   <li>FP8 (E4M3 or E5M2) per channel or per tensor: one f32 scale per row (or tensor), ŵ = s·v(q);</li>
 *   <li>OCP MX: MXFP4 (E2M1), MXFP6 (E2M3, E3M2), MXFP8 (E4M3, E5M2), one E8M0 scale 2^(e−127) per 32 consecutive
 *       elements of a row;</li>
 *   <li>NVFP4: E2M1 with one E4M3 scale per 16 elements and one f32 scale per tensor, ŵ = global · s · v(q)
 *       ({@link QuantizedTensor#globalScale()} = 1/G with G the compressed-tensors {@code weight_global_scale}).</li>
 * </ul>
 * A code is the element's bit pattern (sign on top), so an E2M1 code is the nibble compressed-tensors and ModelOpt
 * store: magnitude index | sign &lt;&lt; 3.
 */
public final class FloatSchemes {
    private FloatSchemes() {}

    public static final QuantScheme NVFP4 = new QuantScheme(ElementType.E2M1, 4, 4, ScaleType.E4M3, Granularity.group(16), ZeroPoint.NONE, 1, List.of());
    public static final QuantScheme MXFP4 = mx(ElementType.E2M1);

    /** OCP MX with this element type: 32 elements per E8M0 scale. */
    public static QuantScheme mx(ElementType element) {
        return new QuantScheme(element, bitsOf(element), bitsOf(element), ScaleType.E8M0, Granularity.group(32), ZeroPoint.NONE, 1, List.of());
    }

    /** FP8 with one f32 scale per output channel ({@code perChannel}) or per tensor. */
    public static QuantScheme fp8(ElementType element, boolean perChannel) {
        if (element != ElementType.E4M3 && element != ElementType.E5M2) throw new IllegalArgumentException("FP8 is E4M3 or E5M2, not " + element);
        return new QuantScheme(element, 8, 8, ScaleType.F32, perChannel ? Granularity.CHANNEL : Granularity.TENSOR, ZeroPoint.NONE, 1, List.of());
    }

    /** Whether the scheme is one of these floating-point schemes. */
    public static boolean isFloat(QuantScheme s) {
        return s.element() != ElementType.INT && s.element() != ElementType.TERNARY && s.element() != ElementType.BINARY;
    }

    /** Whether the scheme is NVFP4-like: E4M3 block scales under an f32 per-tensor scale. */
    public static boolean hasGlobalScale(QuantScheme s) {
        return s.scaleType() == ScaleType.E4M3;
    }

    /** Elements per scale: the group size, or −1 (a row) per channel, or 0 for one scale per tensor. */
    public static int blockSize(QuantScheme s) {
        return switch (s.granularity()) {
            case Granularity.Group g -> g.size();
            case Granularity.Channel c -> -1;
            case Granularity.Tensor t -> 0;
            case Granularity.SuperBlock b -> throw new IllegalArgumentException("no float scheme has super-blocks");
        };
    }

    static int bitsOf(ElementType e) {
        return switch (e) {
            case E2M1 -> 4;
            case E2M3, E3M2 -> 6;
            case E4M3, E5M2 -> 8;
            default -> throw new IllegalArgumentException(e + " is not a floating-point element");
        };
    }

    /** Largest finite element value. */
    public static float max(ElementType e) {
        return switch (e) {
            case E2M1 -> 6f;
            case E2M3 -> 7.5f;
            case E3M2 -> 28f;
            case E4M3 -> 448f;
            case E5M2 -> 57344f;
            default -> throw new IllegalArgumentException(e + " is not a floating-point element");
        };
    }

    /** floor(log2(max)): the OCP exponent offset of the element type (E2M1 2, E2M3 2, E3M2 4, E4M3 8, E5M2 15). */
    public static int emax(ElementType e) {
        return Math.getExponent(max(e));
    }

    /** The value of a code. */
    public static float decode(ElementType e, int code) {
        return switch (e) {
            case E2M1 -> FloatFormats.MiniFloat.E2M1.toF32(code);
            case E2M3 -> FloatFormats.MiniFloat.E2M3.toF32(code);
            case E3M2 -> FloatFormats.MiniFloat.E3M2.toF32(code);
            case E4M3 -> FloatFormats.e4m3ToF32((byte) code);
            case E5M2 -> FloatFormats.e5m2ToF32((byte) code);
            default -> throw new IllegalArgumentException(e + " is not a floating-point element");
        };
    }

    /**
     * f32 → code: round to nearest, ties to even, saturating at ±max (E5M2 too: it has an Inf, which a weight code
     * must never be). NaN is {@link IllegalArgumentException}.
     */
    public static int encode(ElementType e, float x) {
        if (Float.isNaN(x)) throw new IllegalArgumentException("NaN has no " + e + " code");
        return switch (e) {
            case E2M1 -> FloatFormats.MiniFloat.E2M1.fromF32(x);
            case E2M3 -> FloatFormats.MiniFloat.E2M3.fromF32(x);
            case E3M2 -> FloatFormats.MiniFloat.E3M2.fromF32(x);
            case E4M3 -> FloatFormats.f32ToE4m3(x) & 0xFF;
            case E5M2 -> FloatFormats.f32ToE5m2(Math.max(-57344f, Math.min(57344f, x))) & 0xFF;
            default -> throw new IllegalArgumentException(e + " is not a floating-point element");
        };
    }
}
