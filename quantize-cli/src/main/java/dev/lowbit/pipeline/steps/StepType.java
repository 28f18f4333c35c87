package dev.lowbit.pipeline.steps;

import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import java.util.List;

/**
 * A kind of recipe step, registered by name in {@link StepRegistry}: a weight transform (AWQ scaling, SmoothQuant,
 * rotation; {@link #configure} returns a {@link TransformStep}) or a quantizer (RTN, GPTQ; a
 * {@link QuantizerStep}). A recipe is transforms first, then exactly one quantizer.
 * Adding a step is one new implementation of this interface and one line in {@link StepRegistry#DEFAULT}.
 */
public interface StepType {
    /** Where a step may stand in a recipe. */
    enum Role { TRANSFORM, QUANTIZER }

    /** The recipe's {@code type}, e.g. {@code gptq}. */
    String name();

    Role role();

    /** One line for {@code --list-steps} and {@code --help}. */
    String description();

    /** Every parameter the step accepts besides {@code type}, {@code targets} and {@code ignore}, with defaults. */
    List<Param> params();

    /**
     * Checks the step's parameters against this step and the output target and returns it ready to run, with every
     * parameter present (defaults filled in), so that the recipe written next to the output does not depend on
     * defaults.
     *
     * @param source what to blame in messages (the recipe file or "command line")
     */
    Configured configure(String source, Step step, Output output);

    /** A checked step: the recipe entry with every parameter resolved, and its runnable form. */
    interface Configured {
        /** The step as the recipe records it (every parameter explicit). */
        Step step();
    }

    /**
     * A configured transform step ({@link Role#TRANSFORM}): the pipeline asks it for a fresh
     * {@link dev.lowbit.ptq.transform.WeightTransform} per run and calls it per layer before the quantizer.
     */
    interface TransformStep extends Configured {
        /** A new transform for one run (it may keep state between its model and layer parts). */
        dev.lowbit.ptq.transform.WeightTransform transform();
    }
}
