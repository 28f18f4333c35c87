package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.kernels.linalg.Linalg;
import dev.lowbit.ptq.grid.FpGrid;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.gptq.Gptq;
import dev.lowbit.ptq.gptq.GptqConfig;
import dev.lowbit.ptq.gptq.LossClip;
import dev.lowbit.ptq.observe.PackedSymmetric;
import dev.lowbit.ptq.scheme.ClipSearch;
import dev.lowbit.ptq.scheme.ZeroFloor;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code gptq}: Frantar et al., calibrated and error-compensating; parameters named as in the reference
 * implementation. {@code mse_clip} runs the reference's MSE clipping search whenever GPTQ fixes a group's parameters;
 * {@code loss_clip} (per channel) instead picks each row's range shrink by the sweep's own loss ({@link LossClip}).
 */
final class GptqStep implements StepType {
    static final List<Param> OWN = List.of(
            Param.ofNumber("damp_percent", 0.01, "dampening, fraction of mean diag(H), in (0, 1)"),
            Param.ofInt("block_size", 128, "lazy-batch block width"),
            Param.ofBool("desc_act", false, "act-order: columns in order of decreasing diag(H) (format gguf: default true)"),
            Param.ofBool("static_groups", false, "with desc_act: group parameters fixed before the sweep"),
            Param.ofBool("true_sequential", true, "quantize {q,k,v} → {o} → {gate,up} → {down} with quantized inputs"),
            Param.ofBool("loss_clip", false, "per channel: each row's range shrink (1, 0.975, …, 0.525) chosen by the GPTQ sweep's own loss"));
    /** Parameters of GPTQ onto a GGUF type's grid only. */
    static final List<Param> GGUF_ONLY = List.of(
            Param.ofBool("search_importance", true, "gguf: each block's scale search weighs its elements by diag(H), as llama.cpp's imatrix"),
            Param.ofBool("allow_rtn_fallback", false, "gguf: a Linear whose Hessian is not positive definite is rounded by the weighted search instead of stopping"));
    static final List<Param> ALL = concat(concat(GridParams.ALL, OWN), GGUF_ONLY);
    static final String GGUF_ONLY_REASON = "applies to format gguf only";

    @Override
    public String name() {
        return "gptq";
    }

    @Override
    public Role role() {
        return Role.QUANTIZER;
    }

    @Override
    public String description() {
        return "Frantar et al.: calibrated, error-compensating; needs calibration data";
    }

    @Override
    public List<Param> params() {
        return ALL;
    }

    @Override
    public Configured configure(String source, Step step, Output output) {
        String where = "step 'gptq'";
        ObjectNode p = output.isGguf()
                ? StepRegistry.resolve(source, where, step.params(), concat(OWN, GGUF_ONLY), ALL, GridParams.NOT_FOR_GGUF)
                : StepRegistry.resolve(source, where, step.params(), concat(GridParams.accepted(source, where, step.params()), OWN), ALL, GGUF_ONLY_REASON);
        // GPTQ into GGUF sweeps in act-order unless told otherwise: measured better at every mix tried (README figures)
        if (output.isGguf() && !step.params().has("desc_act")) p.put("desc_act", true);
        double damp = p.get("damp_percent").doubleValue();
        if (!(damp > 0 && damp < 1)) throw new BadInputException(source, where + ": damp_percent must be in (0, 1), got " + damp);
        if (p.get("block_size").intValue() < 1) {
            throw new BadInputException(source, where + ": block_size must be ≥ 1, got " + p.get("block_size"));
        }
        if (output.isGguf() && p.get("static_groups").booleanValue()) {
            throw new BadInputException(source, where + ": static_groups (--static-groups) does not apply to format gguf "
                    + "(a block's parameters are fitted when the sweep first reaches one of its columns)");
        }
        if (p.get("static_groups").booleanValue() && !p.get("desc_act").booleanValue()) {
            throw new BadInputException(source, where + ": static_groups (--static-groups) only makes sense with desc_act (--act-order)");
        }
        GridParams.Choice grid = output.isGguf() ? null : GridParams.choice(source, where, p);
        if (grid != null && grid.isFloat() && p.get("static_groups").booleanValue()) {
            throw new BadInputException(source, where + ": static_groups (--static-groups) does not apply to float schemes "
                    + "(a block's scale is fitted when the sweep first reaches one of its columns)");
        }
        QuantScheme scheme = grid == null ? null : grid.scheme();
        if (p.get("loss_clip").booleanValue()) {
            if (grid == null || grid.isFloat()) {
                throw new BadInputException(source, where + ": loss_clip (--loss-clip) applies to integer grids only (not "
                        + (grid == null ? "format gguf" : "a float scheme") + ")");
            }
            if (scheme.groupSize() != -1) {
                throw new BadInputException(source, where + ": loss_clip (--loss-clip) is per channel only (group_size -1), got group_size " + scheme.groupSize());
            }
            if (p.get("mse_clip").booleanValue()) throw new BadInputException(source, where + ": loss_clip (--loss-clip) and mse_clip (--mse-clip) are two clip searches: choose one");
        }
        ClipSearch clip = grid != null && !grid.isFloat() && p.get("mse_clip").booleanValue() ? ClipSearch.REFERENCE : null;
        return new Quantizer(step.withParams(p), scheme, clip, grid);
    }

    record Quantizer(Step step, QuantScheme scheme, ClipSearch clip, GridParams.Choice grid) implements QuantizerStep {
        private ObjectNode p() {
            return step.params();
        }

        @Override
        public String name() {
            return "gptq";
        }

        @Override
        public boolean needsCalibration() {
            return true;
        }

        @Override
        public boolean trueSequential() {
            return p().get("true_sequential").booleanValue();
        }

        @Override
        public boolean actOrder() {
            return p().get("desc_act").booleanValue();
        }

        @Override
        public boolean staticGroups() {
            return p().get("static_groups").booleanValue();
        }

        @Override
        public double dampPercent() {
            return p().get("damp_percent").doubleValue();
        }

        private QuantizedTensor gptqFloat(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian) {
            return GptqStep.gptqFloat(module, s, grid, config(s).options(), weight, rows, cols, PackedSymmetric.ofUpper(hessian, cols));
        }

        /** The settings {@link Gptq} runs with on grid {@code s}. */
        public GptqConfig config(QuantScheme s) {
            return new GptqConfig(s, dampPercent(), p().get("block_size").intValue(), actOrder(), staticGroups(), clip, null,
                    p().get("loss_clip").booleanValue() ? LossClip.DEFAULT : null);
        }

        @Override
        public QuantizedTensor quantize(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian) {
            if (FloatSchemes.isFloat(s)) return gptqFloat(module, s, weight, rows, cols, hessian);
            return Gptq.quantizeConsuming(module, weight, rows, cols, hessian, config(s)).quantized();
        }

        @Override
        public QuantizedTensor quantize(String module, QuantScheme s, float[] weight, int rows, int cols, double[] hessian,
                                        ZeroFloor floor) {
            if (FloatSchemes.isFloat(s)) return gptqFloat(module, s, weight, rows, cols, hessian);
            return Gptq.quantizeConsuming(module, weight, rows, cols, hessian, config(s).withZeroFloor(floor)).quantized();
        }

        /** GPTQ reads one triangle of H: the pipeline's triangle is solved in place (0.48 GB at a 7B down_proj). */
        @Override
        public QuantizedTensor quantizePacked(String module, QuantScheme s, float[] weight, int rows, int cols, PackedSymmetric hessian,
                                              ZeroFloor floor) {
            if (FloatSchemes.isFloat(s)) return GptqStep.gptqFloat(module, s, grid, config(s).options(), weight, rows, cols, hessian);
            return Gptq.quantizeConsuming(module, weight, rows, cols, hessian, config(s).withZeroFloor(floor)).quantized();
        }
    }

    /**
     * GPTQ's sweep onto a float grid ({@link FpGrid}): block scales fitted on the error-compensated weights. NVFP4's
     * global scale comes from the weights as given, so a block that the compensation pushed past the tensor's maximum
     * can need an E4M3 scale above 448: it is clamped (the block saturates a little, as ModelOpt's would) rather than
     * refused, and reported in one line naming the tensor.
     */
    static QuantizedTensor gptqFloat(String module, QuantScheme s, GridParams.Choice grid, GptqConfig.Options options,
                                     float[] weight, int rows, int cols, PackedSymmetric hessian) {
        FpGrid.checkFinite(module, weight);
        FpGrid fp = new FpGrid(s, grid.mx(), grid.fourOverSix(), rows, cols);
        Gptq.sweep(module, weight, rows, cols, hessian, options, fp, Linalg.kernels(), true); // the step may modify H
        if (fp.clampedScales() > 0) {
            BalanceStep.notice("tensor '" + module + "': " + fp.clampedScales()
                    + " block scale(s) above E4M3's 448 clamped to 448 (GPTQ's compensated weights outgrew the tensor's global scale)");
        }
        return fp.result(module);
    }

    private static List<Param> concat(List<Param> a, List<Param> b) {
        List<Param> out = new ArrayList<>(a);
        out.addAll(b);
        return List.copyOf(out);
    }
}
