package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.gptq.GptqConfig;
import java.util.List;

/**
 * What the trit-plane quantizer steps ({@code ptqtp}, {@code ternary-rtn}, {@code binarize}, {@code pb-llm}) share:
 * output format {@code trit-planes} only, a {@code group_size}, and for the calibrated ones {@code damp_percent} and
 * {@code block_size}, each checked once here. A step adds its own checks in {@link #check} and builds its quantizer in
 * {@link #quantizer}.
 */
abstract class TritStep implements StepType {
    /** GPTQ-style dampening of the calibration Hessian. */
    static final Param DAMP = Param.ofNumber("damp_percent", 0.01, "with calibration: dampening, fraction of mean diag(H), in (0, 1)");
    /** The lazy-batch width of the GPTQ sweep. */
    static final Param BLOCK = Param.ofInt("block_size", 128, "error feedback: lazy-batch block width");

    static Param groupSize(int defaultSize, String help) {
        return Param.ofInt("group_size", defaultSize, help);
    }

    private final String name, description;
    private final List<Param> params;

    TritStep(String name, String description, List<Param> params) {
        this.name = name;
        this.description = description;
        this.params = List.copyOf(params);
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final Role role() {
        return Role.QUANTIZER;
    }

    @Override
    public final String description() {
        return description;
    }

    @Override
    public final List<Param> params() {
        return params;
    }

    @Override
    public final Configured configure(String source, Step step, Output output) {
        String where = "step '" + name + "'";
        checkOutput(source, where, output);
        TritSteps.requireTritPlanes(source, where, output);
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), params, params, "");
        int g = p.get("group_size").intValue();
        if (g < 1) throw new BadInputException(source, where + ": group_size must be positive, got " + g);
        if (p.has(DAMP.name())) {
            double damp = p.get(DAMP.name()).doubleValue();
            if (!(damp > 0 && damp < 1)) throw new BadInputException(source, where + ": damp_percent must be in (0, 1), got " + damp);
        }
        if (p.has(BLOCK.name()) && p.get(BLOCK.name()).intValue() < 1) {
            throw new BadInputException(source, where + ": block_size must be ≥ 1");
        }
        check(source, where, p);
        return quantizer(step.withParams(p), g);
    }

    /** A step's own target check before the shared one (e.g. a more helpful word for GGUF). */
    void checkOutput(String source, String where, Output output) {}

    /** A step's own parameter checks, after the shared ones ({@code p}: every parameter resolved). */
    void check(String source, String where, ObjectNode p) {}

    /** The runnable step ({@code step}: every parameter resolved). */
    abstract Configured quantizer(Step step, int groupSize);

    /** The quantizer side: dampening and sweep options from the step's parameters; true-sequential when calibrated. */
    interface Quantizer extends QuantizerStep {
        @Override
        Step step();

        @Override
        default double dampPercent() {
            return step().params().path(DAMP.name()).asDouble(0.01);
        }

        @Override
        default boolean trueSequential() {
            return needsCalibration();
        }

        /** GPTQ's sweep with this step's dampening and block width, columns in order. */
        default GptqConfig.Options sweepOptions() {
            return new GptqConfig.Options(dampPercent(), step().params().path(BLOCK.name()).asInt(128), false);
        }

        default boolean flag(String param) {
            return step().params().get(param).booleanValue();
        }

        default double number(String param) {
            return step().params().get(param).doubleValue();
        }
    }
}
