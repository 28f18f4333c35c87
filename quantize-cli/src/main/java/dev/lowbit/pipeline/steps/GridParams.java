package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import java.util.List;

/** The integer-grid parameters every quantizer step takes for the safetensors targets (a GGUF type fixes its own). */
final class GridParams {
    private GridParams() {}

    static final List<Param> ALL = List.of(
            Param.ofInt("bits", 4, "bits per weight, 2..8"),
            Param.ofInt("group_size", 128, "input channels per scale; -1 = per output channel"),
            Param.ofBool("symmetric", false, "zero point fixed at 2^(bits-1) instead of fitted"),
            Param.ofBool("mse_clip", false, "search a shrunk range per group minimising the error (reference mse=True)"));

    static final String NOT_FOR_GGUF = "does not apply to format gguf (the GGUF type fixes the grid)";

    /** The scheme of resolved parameters; bad input for out-of-range values. */
    static QuantScheme scheme(String source, String where, ObjectNode p) {
        int bits = p.get("bits").intValue(), group = p.get("group_size").intValue();
        if (bits < 2 || bits > 8) throw new BadInputException(source, where + ": bits must be 2..8, got " + bits);
        if (group != -1 && group < 1) {
            throw new BadInputException(source, where + ": group size must be -1 (per channel) or positive, got " + group);
        }
        return new QuantScheme(bits, group, p.get("symmetric").booleanValue());
    }
}
