package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.ptq.grid.FpGrid;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The grid parameters every quantizer step takes for the safetensors targets (a GGUF type fixes its own): the integer
 * grid's {@code bits}, {@code group_size}, {@code symmetric}, {@code mse_clip}, or a floating-point {@code scheme}
 * (FP8, MX, NVFP4) with its own options. Parameters of the other kind of grid are refused, not ignored.
 */
final class GridParams {
    private GridParams() {}

    static final List<Param> INT = List.of(
            Param.ofInt("bits", 4, "bits per weight, 2..8"),
            Param.ofInt("group_size", 128, "input channels per scale; -1 = per output channel"),
            Param.ofBool("symmetric", false, "zero point fixed at 2^(bits-1) instead of fitted"),
            Param.ofBool("mse_clip", false, "search a shrunk range per group minimising the error (reference mse=True)"));
    static final Param SCHEME = Param.ofString("scheme", "int",
            "int (bits, group_size, ...) or a float scheme: fp8, fp8_e5m2 (per channel), nvfp4, mxfp4, mxfp6_e3m2, mxfp6_e2m3, mxfp8_e4m3, mxfp8_e5m2");
    static final Param FOUR_OVER_SIX = Param.ofString("four_over_six", "off",
            "nvfp4: off | mse | weighted: per block, the block maximum on 4 or on 6, whichever reconstructs better (weighted: by diag(H))");
    static final Param MX_EXPONENT = Param.ofString("mx_exponent", "ocp",
            "mx schemes: ocp (= ggml) | compressed-tensors | modelopt: how a block's E8M0 exponent follows from its maximum");
    static final List<Param> ALL = concat(INT, List.of(SCHEME, FOUR_OVER_SIX, MX_EXPONENT));

    static final String NOT_FOR_GGUF = "does not apply to format gguf (the GGUF type fixes the grid)";

    /** The float schemes by recipe name. */
    static final Map<String, QuantScheme> FLOAT = new LinkedHashMap<>();
    static {
        FLOAT.put("fp8", FloatSchemes.fp8(ElementType.E4M3, true));
        FLOAT.put("fp8_e5m2", FloatSchemes.fp8(ElementType.E5M2, true));
        FLOAT.put("nvfp4", FloatSchemes.NVFP4);
        FLOAT.put("mxfp4", FloatSchemes.MXFP4);
        FLOAT.put("mxfp6_e3m2", FloatSchemes.mx(ElementType.E3M2));
        FLOAT.put("mxfp6_e2m3", FloatSchemes.mx(ElementType.E2M3));
        FLOAT.put("mxfp8_e4m3", FloatSchemes.mx(ElementType.E4M3));
        FLOAT.put("mxfp8_e5m2", FloatSchemes.mx(ElementType.E5M2));
    }

    /** A step's grid: the scheme, and for a float scheme the options of its {@link FpGrid}. */
    record Choice(QuantScheme scheme, boolean isFloat, FpGrid.MxExponent mx, FpGrid.FourOverSix fourOverSix) {}

    /**
     * The grid parameters that apply to the scheme {@code given} names (the integer ones plus {@code scheme} for
     * {@code int}; {@code scheme} and its own options for a float scheme); a parameter of the other kind is refused.
     */
    static List<Param> accepted(String source, String where, ObjectNode given) {
        JsonNode s = given.get("scheme");
        if (s != null && !s.isTextual()) throw new BadInputException(source, where + ": 'scheme' must be a string, got " + s);
        String name = s == null ? "int" : s.asText();
        QuantScheme f = FLOAT.get(name);
        if (f == null && !name.equals("int")) {
            throw new BadInputException(source, where + ": unknown scheme '" + name + "' (schemes: int, " + String.join(", ", FLOAT.keySet()) + ")");
        }
        List<Param> acc = new ArrayList<>();
        if (f == null) acc.addAll(INT);
        acc.add(SCHEME);
        if (f != null && FloatSchemes.hasGlobalScale(f)) acc.add(FOUR_OVER_SIX);
        if (f != null && f.scaleType() == QuantScheme.ScaleType.E8M0) acc.add(MX_EXPONENT);
        for (Iterator<String> it = given.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (ALL.stream().anyMatch(p -> p.name().equals(k)) && acc.stream().noneMatch(p -> p.name().equals(k))) {
                throw new BadInputException(source, where + ": '" + k + "' does not apply to scheme " + name
                        + (f == null ? "" : " (the scheme fixes its grid)"));
            }
        }
        return List.copyOf(acc);
    }

    /** The grid of resolved parameters; bad input for out-of-range values. */
    static Choice choice(String source, String where, ObjectNode p) {
        String name = p.get("scheme").asText();
        QuantScheme f = FLOAT.get(name);
        if (f == null) return new Choice(scheme(source, where, p), false, null, null);
        FpGrid.MxExponent mx = null;
        if (p.has("mx_exponent")) {
            mx = FpGrid.MxExponent.of(p.get("mx_exponent").asText());
            if (mx == null) throw new BadInputException(source, where + ": mx_exponent must be ocp, compressed-tensors or modelopt, got '" + p.get("mx_exponent").asText() + "'");
        }
        FpGrid.FourOverSix fos = null;
        if (p.has("four_over_six")) {
            String v = p.get("four_over_six").asText();
            fos = switch (v) {
                case "off" -> FpGrid.FourOverSix.OFF;
                case "mse" -> FpGrid.FourOverSix.MSE;
                case "weighted" -> FpGrid.FourOverSix.WEIGHTED;
                default -> throw new BadInputException(source, where + ": four_over_six must be off, mse or weighted, got '" + v + "'");
            };
        }
        return new Choice(f, true, mx, fos);
    }

    /** The integer scheme of resolved parameters; bad input for out-of-range values. */
    static QuantScheme scheme(String source, String where, ObjectNode p) {
        int bits = p.get("bits").intValue(), group = p.get("group_size").intValue();
        if (bits < 2 || bits > 8) throw new BadInputException(source, where + ": bits must be 2..8, got " + bits);
        if (group != -1 && group < 1) {
            throw new BadInputException(source, where + ": group size must be -1 (per channel) or positive, got " + group);
        }
        return new QuantScheme(bits, group, p.get("symmetric").booleanValue());
    }

    static List<Param> concat(List<Param> a, List<Param> b) {
        List<Param> out = new ArrayList<>(a);
        out.addAll(b);
        return List.copyOf(out);
    }
}
