package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.grid.FpGrid;
import dev.lowbit.ptq.rtn.Rtn;
import dev.lowbit.ptq.scheme.ZeroFloor;
import dev.lowbit.ptq.scheme.ClipSearch;
import java.util.List;

/** {@code rtn}: round to nearest on the grid, data-free. For GGUF the type's own quantizer (importance-weighted). */
final class RtnStep implements StepType {
    @Override
    public String name() {
        return "rtn";
    }

    @Override
    public Role role() {
        return Role.QUANTIZER;
    }

    @Override
    public String description() {
        return "round to nearest, data-free, seconds";
    }

    @Override
    public List<Param> params() {
        return GridParams.ALL;
    }

    @Override
    public Configured configure(String source, Step step, Output output) {
        String where = "step 'rtn'";
        if (output.isGguf()) {
            ObjectNode p = StepRegistry.resolve(source, where, step.params(), List.of(), GridParams.ALL, GridParams.NOT_FOR_GGUF);
            return new Quantizer(step.withParams(p), null, null, null);
        }
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), GridParams.accepted(source, where, step.params()), GridParams.ALL, "");
        GridParams.Choice grid = GridParams.choice(source, where, p);
        if (grid.fourOverSix() == FpGrid.FourOverSix.WEIGHTED) {
            throw new BadInputException(source, where + ": four_over_six 'weighted' weighs by diag(H), which rtn has no data for (use mse, or gptq)");
        }
        ClipSearch clip = !grid.isFloat() && p.get("mse_clip").booleanValue() ? ClipSearch.REFERENCE : null;
        return new Quantizer(step.withParams(p), grid.scheme(), clip, grid);
    }

    record Quantizer(Step step, QuantScheme scheme, ClipSearch clip, GridParams.Choice grid) implements QuantizerStep {
        @Override
        public String name() {
            return "rtn";
        }

        @Override
        public boolean needsCalibration() {
            return false;
        }

        @Override
        public QuantizedTensor quantize(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian) {
            if (FloatSchemes.isFloat(s)) return FpGrid.rtn(module, weight, rows, cols, s, grid.mx(), grid.fourOverSix(), null);
            return clip == null ? Rtn.rtn(module, weight, rows, cols, s) : Rtn.rtn(module, weight, rows, cols, s, clip);
        }

        @Override
        public QuantizedTensor quantize(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian,
                                        ZeroFloor floor) {
            if (FloatSchemes.isFloat(s)) return quantize(module, s, weight, rows, cols, hessian);
            return Rtn.rtn(module, weight, rows, cols, s, clip, floor);
        }
    }
}
