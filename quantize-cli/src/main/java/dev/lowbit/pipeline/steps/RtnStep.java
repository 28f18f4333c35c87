package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
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
            return new Quantizer(step.withParams(p), null, null);
        }
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), GridParams.ALL, GridParams.ALL, "");
        QuantScheme scheme = GridParams.scheme(source, where, p);
        return new Quantizer(step.withParams(p), scheme, p.get("mse_clip").booleanValue() ? ClipSearch.REFERENCE : null);
    }

    record Quantizer(Step step, QuantScheme scheme, ClipSearch clip) implements QuantizerStep {
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
            return clip == null ? Rtn.rtn(module, weight, rows, cols, s) : Rtn.rtn(module, weight, rows, cols, s, clip);
        }

        @Override
        public QuantizedTensor quantize(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian,
                                        ZeroFloor floor) {
            return Rtn.rtn(module, weight, rows, cols, s, clip, floor);
        }
    }
}
